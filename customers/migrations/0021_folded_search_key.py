"""A trigram index over the search key with its accents dropped: the screens' accent-blind search
(`Jose` finds José, backends.folding) reads it as the plain key's index serves R43. PostgreSQL only; no
column is added, so the table is not rewritten (a million rows: the index alone, built once)."""

from django.db import migrations

from backends.folding import ACCENTED, PLAIN
from customers.migrations._postgresql import PostgreSQLOnly

STATISTICS = 1000


class Migration(migrations.Migration):
    dependencies = [("customers", "0020_import_runs")]

    operations = [
        PostgreSQLOnly(
            sql=[
                'CREATE INDEX IF NOT EXISTS "customer_user_search_key_folded_trgm" ON "customer_user" '
                f"USING gin (translate(\"search_key\", '{ACCENTED}', '{PLAIN}') gin_trgm_ops)",
                # the plain key's finer histogram (0013), for the same reason: a common stem read in order
                "ALTER INDEX customer_user_search_key_folded_trgm"
                f" ALTER COLUMN 1 SET STATISTICS {STATISTICS}",
                "ANALYZE customer_user",
            ],
            reverse_sql='DROP INDEX IF EXISTS "customer_user_search_key_folded_trgm"',
        )
    ]
