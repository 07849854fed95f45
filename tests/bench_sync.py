"""`make bench-sync`: the directory lifecycle at scale, written to var/bench/sync.json.

    python -m tests.stack python -m tests.bench_sync [--entries 100000] [--users 1000000]

A slapd with syncprov (as a synced directory is served) grows to `entries` people, PostgreSQL to `users`
customer users (imported as `make bench` imports them); then `manage.py bench_sync` times the full run,
the incremental run after 1 % modified, 0.5 % deleted and 0.5 % added entries, and 250-row searches over
the database alone and over the database plus the synced directory. Targets: full ≤ 60 s at ≤ 400 MB,
incremental ≤ 5 s applying exactly the changes, searches p95 ≤ 1.5 × the database's alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.data import write_customer_users_csv, write_customers_csv
from tests.bench import grow_directory
from tests.bench_search import ldap_source, toml
from tests.ldap_server import PEOPLE_DN, SyncDirectoryServer

TARGETS = {"full_s": 60, "full_peak_mb": 400, "incremental_s": 5, "search_ratio": 1.5}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=int(os.environ.get("BENCH_SYNC_ENTRIES", "100000")))
    parser.add_argument("--users", type=int, default=int(os.environ.get("BENCH_SYNC_USERS", "1000000")))
    parser.add_argument("--out", type=Path, default=Path("var/bench/sync.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="helpdesk-bench-sync-"))

    from helpdesk.config import DEFAULT_CUSTOMER_USER_SOURCE

    server = SyncDirectoryServer()
    server.start()
    try:
        directory = {**ldap_source(server.ldap_uri, PEOPLE_DN, "Directory"), "Sync": True,
                     "DisabledPreset": "openldap-ppolicy", "CustomerUserSearchListLimit": 250}  # fmt: skip
        config = {"CustomerUser": DEFAULT_CUSTOMER_USER_SOURCE, "CustomerUser1": directory}
        (work / "helpdesk.toml").write_text(toml(config), encoding="utf-8")
        env = {
            **os.environ,
            "HELPDESK_CONFIG": str(work / "helpdesk.toml"),
            "DJANGO_SECRET_KEY": "benchmark-only",
        }
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
        customers, users = work / "customers.csv", work / "users.csv"
        write_customers_csv(customers, max(1, args.users // 10))
        write_customer_users_csv(users, args.users, max(1, args.users // 10))
        for command, path in (("import_customers", customers), ("import_customer_users", users)):
            subprocess.run([*manage, command, str(path), "-v0"], env=env, check=True)
        grow_directory(server, 0, args.entries)
        subprocess.run([*manage, "bench_sync", "--source", "CustomerUser1", "--db-source", "CustomerUser",
                        "--root-dn", server.root_dn, "--root-pw", server.root_pw, "--out", str(args.out)],
                       env=env, check=True)  # fmt: skip
    finally:
        server.stop()
    result = json.loads(args.out.read_text(encoding="utf-8"))
    print(f"\nDirectory sync, {result['entries']:,} entries (database: {args.users:,} customer users)")
    rows = [
        ("full sync", f"{result['full_s']} s", f"≤ {TARGETS['full_s']} s"),
        ("full sync peak memory", f"{result['full_peak_mb']} MB", f"≤ {TARGETS['full_peak_mb']} MB"),
        ("incremental sync", f"{result['incremental_s']} s, {result['changes']} changes applied "
         f"({result['expected_changes']} made)", f"≤ {TARGETS['incremental_s']} s, exactly those"),
        ("250-row search p95, DB + synced directory", f"{result['search_p95_ms']} ms", ""),
        ("250-row search p95, DB only", f"{result['db_only_p95_ms']} ms", ""),
        ("ratio", f"{result['search_ratio']}×", f"≤ {TARGETS['search_ratio']}×"),
    ]  # fmt: skip
    for label, value, target in rows:
        print(f"{label:44}{value:44}{target}")
    print(f"JSON: {args.out}")
    met = (result["full_s"] <= TARGETS["full_s"] and result["full_peak_mb"] <= TARGETS["full_peak_mb"]
           and result["incremental_s"] <= TARGETS["incremental_s"]
           and result["changes"] == result["expected_changes"] and result["search_ratio"] <= TARGETS["search_ratio"])  # fmt: skip
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
