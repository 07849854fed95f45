"""A trigram index over the shadow's search key with its accents dropped (backends.folding): the screens'
accent-blind search of a synced directory. PostgreSQL only."""

from django.db import migrations

from backends.folding import ACCENTED, PLAIN
from core.postgresql import PostgreSQLOnly


class Migration(migrations.Migration):
    dependencies = [("backends", "0003_directory_rules_in_shadow")]

    operations = [
        PostgreSQLOnly(
            sql='CREATE INDEX IF NOT EXISTS "shadow_search_key_folded_trgm" ON "directory_shadow_entry" '
            f"USING gin (translate(\"search_key\", '{ACCENTED}', '{PLAIN}') gin_trgm_ops)",
            reverse_sql='DROP INDEX IF EXISTS "shadow_search_key_folded_trgm"',
        )
    ]
