"""The shadow's search key with its accents dropped (backends.folding), written by the sync beside the
key: the screens' accent-blind search of a synced directory reads it as R43 reads `search_key` (a trigram
index on PostgreSQL). Rows synced before are filled here, in batches."""

from django.db import migrations, models

from core.postgresql import PostgreSQLOnly

BATCH = 2000


def fill(apps, schema_editor):
    from backends.folding import fold

    entries = apps.get_model("backends", "ShadowEntry")
    rows = entries.objects.using(schema_editor.connection.alias).only("id", "search_key").order_by("id")
    last = 0
    while batch := list(rows.filter(id__gt=last)[:BATCH]):
        for row in batch:
            row.folded_key = fold(row.search_key)
        entries.objects.using(schema_editor.connection.alias).bulk_update(batch, ["folded_key"])
        last = batch[-1].id


class Migration(migrations.Migration):
    dependencies = [("backends", "0003_directory_rules_in_shadow")]

    operations = [
        migrations.AddField(
            model_name="shadowentry", name="folded_key", field=models.TextField(blank=True, default="")
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        PostgreSQLOnly(
            sql='CREATE INDEX IF NOT EXISTS "shadow_folded_key_trgm" ON "directory_shadow_entry" '
            'USING gin ("folded_key" gin_trgm_ops)',
            reverse_sql='DROP INDEX IF EXISTS "shadow_folded_key_trgm"',
        ),
    ]
