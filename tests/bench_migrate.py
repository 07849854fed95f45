"""Migration from Znuny: `import_from_znuny` of N generated customer users into a fresh database.

python -m tests.stack python -m tests.bench_migrate [--users 1000000] [--out var/bench]   (make bench-migrate)

A reference database `znuny` (the reference's customer tables) is filled by SQL with N customer users, N/10
customers and their relations, preferences, groups and services. The import runs as a child process, measured
with wait4 (wall time, peak resident memory); then once more after 1% of the users changed (it must write only
those, no slower), and the copy is checked against the reference (counts and checksums, an old hash logs in).
Writes `migrate.json` with users, rows, seconds, rows_per_s, peak_rss_mb and the second run's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

from tests.znuny_reference import TABLES

GROUPS, SERVICES = 20, 50

FILL = """
INSERT INTO permission_groups (name, comments, valid_id)
  SELECT 'group' || g, 'Group ' || g, 1 FROM generate_series(1, {groups}) g;
INSERT INTO service (name, comments, valid_id)
  SELECT CASE WHEN s <= 10 THEN 'IT' || s ELSE 'IT' || (s % 10 + 1) || '::Service' || s END, '', 1
  FROM generate_series(1, {services}) s;
INSERT INTO customer_company
  SELECT 'C' || lpad(c::text, 6, '0'), 'Company ' || c || ' GmbH', 'Hauptstraße ' || c % 200, lpad((c % 99999)::text, 5, '0'),
         (ARRAY['Berlin','München','Hamburg','Köln','Leipzig','Wien','Zürich'])[1 + c % 7], 'Germany',
         'https://c' || c || '.example', '', CASE WHEN c % 97 = 0 THEN 2 ELSE 1 END
  FROM generate_series(1, {customers}) c;
INSERT INTO customer_user (login, email, customer_id, pw, title, first_name, last_name, phone, fax, mobile,
                           street, zip, city, country, comments, valid_id)
  SELECT lower(f) || '.' || lower(l) || u, lower(f) || '.' || u || '@c' || (u % {customers} + 1) || '.example',
         'C' || lpad((u % {customers} + 1)::text, 6, '0'), encode(sha256(('pw' || u)::bytea), 'hex'),
         CASE WHEN u % 5 = 0 THEN 'Dr.' ELSE '' END, f, l, '+49 30 ' || u, '', '+49 170 ' || u,
         'Weg ' || u % 300, lpad((u % 99999)::text, 5, '0'), 'Berlin', 'Germany', '',
         CASE WHEN u % 50 = 0 THEN 2 ELSE 1 END
  FROM (SELECT u, (ARRAY['Anna','Bernd','Chloé','Dieter','Emma','Jörg','Lena','Paul','Sophie','Zoë'])[1 + u % 10] f,
               (ARRAY['Müller','Schmidt','Schneider','Fischer','Weber','Meyer','Wagner','Becker','Hoffmann',
                      'Schäfer','Koch','Bauer','Richter','Klein','Wolf','Schröder'])[1 + (u / 10) % 16] l
        FROM generate_series(1, {users}) u) names;
INSERT INTO customer_user_customer
  SELECT login, 'C' || lpad(((id * 7) % {customers} + 1)::text, 6, '0') FROM customer_user WHERE id <= {user_customers};
INSERT INTO group_customer_user
  SELECT login, id % {groups} + 1, CASE WHEN id % 3 = 0 THEN 'rw' ELSE 'ro' END, 1
  FROM customer_user WHERE id <= {user_groups};
INSERT INTO group_customer
  SELECT customer_id, c % {groups} + 1, CASE WHEN c % 4 = 0 THEN 'rw' ELSE 'ro' END, 1, 'Ticket::CustomerID::Same'
  FROM (SELECT customer_id, row_number() OVER (ORDER BY customer_id) c FROM customer_company) numbered;
INSERT INTO service_customer_user
  SELECT login, id % {services} + 1 FROM customer_user WHERE id <= {user_services}
  UNION ALL SELECT '<DEFAULT>', 1;
INSERT INTO customer_preferences
  SELECT login, 'UserLanguage', (ARRAY['de','en','fr'])[1 + id % 3] FROM customer_user WHERE id <= {languages}
  UNION ALL
  SELECT login, 'UserTimeZone', 'Europe/Berlin' FROM customer_user WHERE id <= {zones};
ANALYZE;
"""

#: What the copy must equal: the same rows, and the same values in them, on both sides.
CHECKSUMS = {
    "customer_company": "SELECT count(*), md5(string_agg(customer_id || name || city || valid_id, ',' ORDER BY customer_id))"
    " FROM customer_company",
    "customer_user": "SELECT count(*), md5(string_agg(login || email || customer_id || last_name || valid_id, ','"
    " ORDER BY login)) FROM customer_user",
}
RELATIONS = ("customer_user_customer", "group_customer_user", "group_customer", "service_customer_user")


def fill(url: str, users: int) -> int:
    """Create and fill the reference database; return how many rows it holds."""
    customers = max(1, users // 10)
    sizes = {
        "users": users, "customers": customers, "groups": GROUPS, "services": SERVICES,
        "user_customers": users // 5, "user_groups": users // 10, "user_services": users // 50,
        "languages": users * 3 // 10, "zones": users // 5,
    }  # fmt: skip
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(TABLES)
        cursor.execute(FILL.format(**sizes))
        cursor.execute(
            "SELECT (SELECT count(*) FROM customer_company) + (SELECT count(*) FROM customer_user)"
            " + (SELECT count(*) FROM customer_preferences) + (SELECT count(*) FROM customer_user_customer)"
            " + (SELECT count(*) FROM permission_groups) + (SELECT count(*) FROM group_customer_user)"
            " + (SELECT count(*) FROM group_customer) + (SELECT count(*) FROM service)"
            " + (SELECT count(*) FROM service_customer_user)"
        )
        return cursor.fetchone()[0]


def timed_import(dsn: str, env: dict[str, str]) -> tuple[float, float, str]:
    """Run import_from_znuny; return its wall time (s), its peak resident memory (MB) and its output."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "manage.py", "import_from_znuny", "--dsn", dsn],
        env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode:
        raise SystemExit(f"import_from_znuny failed ({child.returncode}):\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def counted(output: str, what: str) -> int:
    """The number the import printed for `what` (e.g. 'customer users updated'), 0 when absent."""
    found = re.search(rf"^copied: (\d+) {re.escape(what)}$", output, re.MULTILINE)
    return int(found.group(1)) if found else 0


def check_copy(reference_url: str, target_url: str) -> None:
    with (
        psycopg2.connect(reference_url) as ref,
        psycopg2.connect(target_url) as ours,
        ref.cursor() as theirs,
        ours.cursor() as mine,
    ):
        for table, sql in CHECKSUMS.items():
            theirs.execute(sql)
            mine.execute(sql)
            expected, got = theirs.fetchone(), mine.fetchone()
            if expected != got:
                raise SystemExit(f"{table}: the copy differs from the reference ({got} against {expected})")
        for table in RELATIONS:
            theirs.execute(f"SELECT count(*) FROM {table} WHERE customer_user_login IS DISTINCT FROM '<DEFAULT>'"
                           if table == "service_customer_user" else f"SELECT count(*) FROM {table}")  # fmt: skip
            mine.execute(f"SELECT count(*) FROM {table}")
            expected, got = theirs.fetchone()[0], mine.fetchone()[0]
            if expected != got:
                raise SystemExit(f"{table}: {got} rows copied, the reference holds {expected}")


def stored_hash(target_url: str, login: str) -> str:
    with psycopg2.connect(target_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pw FROM customer_user WHERE login = %s", [login])
        return cursor.fetchone()[0]


def check_old_hash_logs_in(env: dict[str, str]) -> None:
    code = (
        "from customers.authentication import authenticate_customer_user as a; "
        "import sys; sys.exit(0 if a('anna.schmidt10', 'pw10').ok else 1)"
    )
    if subprocess.run([sys.executable, "manage.py", "shell", "-c", code], env=env, check=False).returncode:
        raise SystemExit("anna.schmidt10 cannot log in with the password the reference's hash holds")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=int(os.environ.get("BENCH_MIGRATE_USERS", 1_000_000)))
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    args = parser.parse_args()
    base = os.environ["HELPDESK_PG_URL"]
    admin = psycopg2.connect(f"{base}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("CREATE DATABASE znuny")
    reference = f"{base}/znuny"
    print(f"filling the reference database with {args.users:,} customer users …", file=sys.stderr)
    rows = fill(reference, args.users)
    env = {**os.environ, "DJANGO_SECRET_KEY": "benchmark-only", "DJANGO_DEBUG": ""}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, check=True)

    seconds, peak, output = timed_import(reference, env)
    print(output, file=sys.stderr)
    check_copy(reference, os.environ["DATABASE_URL"])

    with psycopg2.connect(reference) as connection, connection.cursor() as cursor:
        cursor.execute("UPDATE customer_user SET city = 'Potsdam' WHERE id % 100 = 0")
        changed = cursor.rowcount
    again_seconds, again_peak, again = timed_import(reference, env)
    print(again, file=sys.stderr)
    check_copy(reference, os.environ["DATABASE_URL"])
    check_old_hash_logs_in(env)  # a login upgrades the hash …
    upgraded = stored_hash(os.environ["DATABASE_URL"], "anna.schmidt10")
    third_seconds, third_peak, third = timed_import(reference, env)  # … which a third run leaves as it is
    if (
        counted(third, "customer users updated")
        or stored_hash(os.environ["DATABASE_URL"], "anna.schmidt10") != upgraded
    ):
        raise SystemExit("a third run, with nothing changed in the reference, wrote customer users again")

    result = {
        "users": args.users, "rows": rows, "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds), "peak_rss_mb": round(peak),
        "second_run": {
            "changed_users": changed, "customer_users_updated": counted(again, "customer users updated"),
            "customer_users_added": counted(again, "customer users added"),
            "seconds": round(again_seconds, 1), "peak_rss_mb": round(again_peak),
        },
        "third_run": {
            "customer_users_updated": counted(third, "customer users updated"),
            "seconds": round(third_seconds, 1), "peak_rss_mb": round(third_peak),
        },
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "migrate.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{args.users:,} customer users, {rows:,} rows: {seconds:.1f} s ({rows / seconds:,.0f} rows/s), "
        f"peak {peak:.0f} MB; second run ({changed:,} users changed, "
        f"{result['second_run']['customer_users_updated']:,} updated): {again_seconds:.1f} s, peak {again_peak:.0f} MB;"
        f" third run (nothing changed, an upgraded hash kept): {third_seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
