"""PostgreSQL indexes that let wildcard searches avoid a sequential scan (W1).

Trigram GIN indexes on lower(column) serve `lower(column) LIKE '%term%'` (infix and suffix searches) and
prefix searches alike. SQLite has no such indexes; there the operations do nothing.
"""

from django.db import migrations

from customers.migrations._postgresql import PostgreSQLOnly

SEARCH_COLUMNS = {
    "customer_user": ("login", "first_name", "last_name", "email", "customer_id"),
    "customer_company": ("customer_id", "name"),
}


def _trigram_indexes():
    for table, columns in SEARCH_COLUMNS.items():
        for column in columns:
            name = f"{table}_{column}_trgm"
            yield PostgreSQLOnly(
                sql=(
                    f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
                    f'USING gin (lower("{column}") gin_trgm_ops)'
                ),
                reverse_sql=f'DROP INDEX IF EXISTS "{name}"',
            )


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]

    operations = [
        PostgreSQLOnly(
            sql="CREATE EXTENSION IF NOT EXISTS pg_trgm",
            reverse_sql=migrations.RunSQL.noop,
        ),
        *_trigram_indexes(),
    ]
