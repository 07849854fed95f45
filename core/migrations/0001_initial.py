from django.core.management.commands.createcachetable import Command as CreateCacheTable
from django.db import migrations, models

CACHE_TABLE = "helpdesk_cache"  # settings.CACHES' default LOCATION (helpdesk/settings.py)


def create_cache_table(apps, schema_editor) -> None:
    """The shared cache's table, whatever CACHES says today: switching to the database cache needs no step."""
    command = CreateCacheTable()
    command.verbosity = 0
    command.create_table(schema_editor.connection.alias, CACHE_TABLE, dry_run=False)


def drop_cache_table(apps, schema_editor) -> None:
    schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(CACHE_TABLE)}")


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Generation",
            fields=[
                ("name", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("value", models.BigIntegerField(default=1)),
            ],
            options={"db_table": "helpdesk_generation"},
        ),
        migrations.RunPython(create_cache_table, drop_cache_table, elidable=False),
    ]
