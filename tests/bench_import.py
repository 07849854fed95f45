"""Import speed: N customer users (and N/10 customers) from CSV into a throwaway PostgreSQL.

python -m tests.stack python -m tests.bench_import [--users 1000000]      (make bench-import)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.data import write_customer_users_csv, write_customers_csv


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1_000_000)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="helpdesk-import-"))
    customers, users = directory / "customers.csv", directory / "customer_users.csv"
    write_customers_csv(customers, max(1, args.users // 10))
    write_customer_users_csv(users, args.users, max(1, args.users // 10))
    env = {**os.environ, "DJANGO_SECRET_KEY": "benchmark-only"}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    subprocess.run([*manage, "import_customers", str(customers), "-v0"], env=env, check=True)
    if os.environ.get("BENCH_DRY"):
        subprocess.run(
            [*manage, "import_customer_users", str(users), "-v0", "--dry-run"], env=env, check=True
        )
    subprocess.run([*manage, "import_customer_users", str(users), "-v0"], env=env, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
