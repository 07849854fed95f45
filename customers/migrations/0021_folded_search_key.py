"""The search key with its accents dropped, stored beside it (`search_key_folded`, PostgreSQL only): the
screens' accent-blind search (`Jose` finds José, backends.folding) compares it as R43 compares `search_key`
— one LIKE per row, a trigram index for rare terms, a finer histogram (as 0013) — with nothing computed per
row at search time. The column is generated from the key's own expression, so the two never disagree.

Adding a stored column rewrites the table once (about a minute per million customer users, the table locked
meanwhile); an expression index over `translate(search_key)` instead cost 400 ms per search of a common stem,
the planner reading rows and translating each one.
"""

from django.db import migrations

STATISTICS = 1000


def add(apps, schema_editor):
    from backends.folding import ACCENTED, PLAIN

    if schema_editor.connection.vendor != "postgresql":
        return  # the folded search is PostgreSQL's (DBSource.folds_accents)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a"
            " ON a.attrelid = d.adrelid AND a.attnum = d.adnum"
            " WHERE d.adrelid = 'customer_user'::regclass AND a.attname = 'search_key'"
        )
        (expression,) = cursor.fetchone()
        cursor.execute(
            "ALTER TABLE customer_user ADD COLUMN search_key_folded text GENERATED ALWAYS AS"
            f" (translate({expression}, %s, %s)) STORED",
            [ACCENTED, PLAIN],
        )
        cursor.execute(
            'CREATE INDEX "customer_user_search_key_folded_trgm" ON customer_user'
            " USING gin (search_key_folded gin_trgm_ops)"
        )
        cursor.execute(
            f"ALTER TABLE customer_user ALTER COLUMN search_key_folded SET STATISTICS {STATISTICS}"
        )
        cursor.execute("ANALYZE customer_user")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE customer_user DROP COLUMN IF EXISTS search_key_folded")


class Migration(migrations.Migration):
    dependencies = [("customers", "0020_import_runs")]

    operations = [migrations.RunPython(add, drop)]
