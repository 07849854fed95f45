"""A finer histogram of `search_key`, so the planner tells a common infix term from a rare one.

With the default 100 entries, a term no sampled key holds (`*órs*`, 4% of a million users) is estimated
at 100 rows and answered by the trigram index, which decodes all 43,000 matches into a bitmap before the
first row (15 ms); with 1,000 entries it is estimated near its real count and read by a sequential scan
that stops at the page's limit (3 ms), while a truly rare term keeps the index. PostgreSQL only.
"""

from django.db import migrations

from customers.migrations._postgresql import PostgreSQLOnly

SEARCH_KEY_STATISTICS = 1000


class Migration(migrations.Migration):
    dependencies = [("customers", "0012_customer_user_tally")]

    operations = [
        PostgreSQLOnly(
            sql=[
                f"ALTER TABLE customer_user ALTER COLUMN search_key SET STATISTICS {SEARCH_KEY_STATISTICS}",
                "ANALYZE customer_user",
            ],
            reverse_sql=["ALTER TABLE customer_user ALTER COLUMN search_key SET STATISTICS -1"],
        )
    ]
