"""A `lower(column) COLLATE "C"` index on each field of the search key, for prefix searches (`mül*`).

A byte-ordered index answers `LIKE 'mül%'` as a range and delivers its first matches in order, so a page
of a prefix search reads about as many index entries as it shows, for a common name as for a rare login.
The trigram index stays for infix terms (`*ller*`). PostgreSQL only; elsewhere the search walks the table.
"""

from django.db import migrations

from customers.migrations._postgresql import PostgreSQLOnly

COLUMNS = ("login", "first_name", "last_name", "customer_id")


class Migration(migrations.Migration):
    dependencies = [("customers", "0010_second_factor")]

    operations = [
        PostgreSQLOnly(
            sql=(
                f'CREATE INDEX IF NOT EXISTS "customer_user_{column}_prefix" ON "customer_user" '
                f'((lower("{column}") COLLATE "C"))'
            ),
            reverse_sql=f'DROP INDEX IF EXISTS "customer_user_{column}_prefix"',
        )
        for column in COLUMNS
    ]
