"""One search key per customer user, and one trigram index over it instead of five (W1).

A wildcard search over login, names and customer ID (the shipped search fields) becomes one
`search_key LIKE …` per row instead of four lower() calls, and one GIN index replaces five: PostgreSQL keeps
it up to date at a fraction of the cost. E-mail is matched exactly (postmaster search, its btree index);
a wildcard search over it, in a Map that asks for one, is checked row by row. The plain unique index on
login goes too: the case-insensitive one already makes logins unique.
"""

import django.db.models.functions.text
from django.db import migrations, models

from customers.migrations._postgresql import PostgreSQLOnly

OLD_INDEXED_COLUMNS = ("login", "first_name", "last_name", "email", "customer_id")


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_login_failure")]

    operations = [
        migrations.AddField(
            model_name="customeruser",
            name="search_key",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.db.models.functions.text.Concat(
                    models.Value("\x1f"),
                    django.db.models.functions.text.Lower("login"),
                    models.Value("\x1f"),
                    django.db.models.functions.text.Lower("first_name"),
                    models.Value("\x1f"),
                    django.db.models.functions.text.Lower("last_name"),
                    models.Value("\x1f"),
                    django.db.models.functions.text.Lower("customer_id"),
                    models.Value("\x1f"),
                    output_field=models.TextField(),
                ),
                output_field=models.TextField(),
            ),
        ),
        migrations.AlterField(
            model_name="customeruser",
            name="login",
            field=models.CharField(max_length=191, verbose_name="login"),
        ),
        *(
            PostgreSQLOnly(
                sql=f'DROP INDEX IF EXISTS "customer_user_{column}_trgm"',
                reverse_sql=(
                    f'CREATE INDEX IF NOT EXISTS "customer_user_{column}_trgm" ON "customer_user" '
                    f'USING gin (lower("{column}") gin_trgm_ops)'
                ),
            )
            for column in OLD_INDEXED_COLUMNS
        ),
        PostgreSQLOnly(
            sql=(
                'CREATE INDEX IF NOT EXISTS "customer_user_search_key_trgm" ON "customer_user" '
                'USING gin ("search_key" gin_trgm_ops)'
            ),
            reverse_sql='DROP INDEX IF EXISTS "customer_user_search_key_trgm"',
        ),
    ]
