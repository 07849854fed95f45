"""Exact counts of customer users without counting a million rows: `customer_user_tally`.

Statement-level triggers add one row per writing statement: how many rows of each `valid_id` it
inserted (+), deleted (-) or moved between validities, read from the statement's transition tables (so a
COPY of 200,000 rows adds one row). A writer only ever inserts, so concurrent writers never wait for
each other and cannot deadlock here; a count is `sum(n)`, and the reader folds the rows into one per
validity when they pile up (backends.sql). TRUNCATE (test flushes) empties it. PostgreSQL only.
"""

from django.db import migrations

from customers.migrations._postgresql import PostgreSQLOnly

FORWARDS = """
CREATE TABLE customer_user_tally (valid_id smallint NOT NULL, n bigint NOT NULL);
INSERT INTO customer_user_tally (valid_id, n) SELECT valid_id, count(*) FROM customer_user GROUP BY valid_id;

CREATE FUNCTION customer_user_tally_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO customer_user_tally (valid_id, n) SELECT valid_id, count(*) FROM new_rows GROUP BY valid_id;
  RETURN NULL;
END $$;
CREATE FUNCTION customer_user_tally_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO customer_user_tally (valid_id, n) SELECT valid_id, -count(*) FROM old_rows GROUP BY valid_id;
  RETURN NULL;
END $$;
CREATE FUNCTION customer_user_tally_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO customer_user_tally (valid_id, n)
    SELECT valid_id, sum(d) FROM (SELECT valid_id, 1 AS d FROM new_rows
                                  UNION ALL SELECT valid_id, -1 FROM old_rows) moved
    GROUP BY valid_id HAVING sum(d) <> 0;
  RETURN NULL;
END $$;
CREATE FUNCTION customer_user_tally_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM customer_user_tally;
  RETURN NULL;
END $$;

CREATE TRIGGER customer_user_tally_insert AFTER INSERT ON customer_user
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_user_tally_inserted();
CREATE TRIGGER customer_user_tally_delete AFTER DELETE ON customer_user
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION customer_user_tally_deleted();
CREATE TRIGGER customer_user_tally_update AFTER UPDATE ON customer_user
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION customer_user_tally_updated();
CREATE TRIGGER customer_user_tally_truncate AFTER TRUNCATE ON customer_user
  FOR EACH STATEMENT EXECUTE FUNCTION customer_user_tally_truncated();
"""

BACKWARDS = """
DROP TRIGGER IF EXISTS customer_user_tally_insert ON customer_user;
DROP TRIGGER IF EXISTS customer_user_tally_delete ON customer_user;
DROP TRIGGER IF EXISTS customer_user_tally_update ON customer_user;
DROP TRIGGER IF EXISTS customer_user_tally_truncate ON customer_user;
DROP FUNCTION IF EXISTS customer_user_tally_inserted(), customer_user_tally_deleted(),
  customer_user_tally_updated(), customer_user_tally_truncated();
DROP TABLE IF EXISTS customer_user_tally;
"""


class Migration(migrations.Migration):
    dependencies = [("customers", "0011_prefix_indexes")]

    operations = [PostgreSQLOnly(sql=FORWARDS, reverse_sql=BACKWARDS)]
