"""`make bench`: deterministic data at growing sizes, measured at the service layer; a table, JSON and a plot.

    python -m tests.stack python -m tests.bench [--sizes 10000,100000,1000000] [--out var/bench]

For each size the database grows to that many customer users (a tenth as many customers), imported with
`import_customers` / `import_customer_users`, and the directory to a tenth of it (at most 100,000 entries);
then `manage.py bench_scale` measures every operation. `make test` runs this on a tiny size only.
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
from tests.bench_search import ldap_source, toml
from tests.ldap_server import PEOPLE_DN, DirectoryServer, person

TARGETS_MS = {  # p95 at 1,000,000 customer users (issue: scale)
    "prefix search (mül*)": 15, "infix search (*ller*)": 40, "postmaster search (exact e-mail)": 2,
    "data get by login": 2, "DB + LDAP search": 50,
}  # fmt: skip


def grow_directory(server: DirectoryServer, have: int, want: int) -> None:
    from benchmarks.data import FIRST_NAMES, LAST_NAMES

    for start in range(have, want, 20_000):
        chunk = range(start, min(want, start + 20_000))
        server.load("\n".join(
            person(f"dir{n:07d}", FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[(n // 7) % len(LAST_NAMES)],
                   customer_id=f"IMP-{n % 1000:06d}") for n in chunk
        ))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "10000,100000,1000000"))
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("var/bench"))
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))

    from helpdesk.config import DEFAULT_CUSTOMER_USER_SOURCE

    server = DirectoryServer()
    server.start()
    results: list[dict] = []
    try:
        config = {"CustomerUser": DEFAULT_CUSTOMER_USER_SOURCE,
                  "CustomerUser1": ldap_source(server.ldap_uri, PEOPLE_DN, "Directory")}  # fmt: skip
        (work / "helpdesk.toml").write_text(toml(config), encoding="utf-8")
        env = {
            **os.environ,
            "HELPDESK_CONFIG": str(work / "helpdesk.toml"),
            "DJANGO_SECRET_KEY": "benchmark-only",
        }
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
        have_users = have_entries = 0
        for size in sizes:
            customers, users = work / f"customers-{size}.csv", work / f"users-{size}.csv"
            # Only the rows this size adds; customers first, as customer users need theirs.
            write_customers_csv(
                customers, max(1, size // 10), start=max(1, have_users // 10) if have_users else 0
            )
            write_customer_users_csv(users, size, max(1, size // 10), start=have_users)
            for command, path in (("import_customers", customers), ("import_customer_users", users)):
                imported = subprocess.run(
                    [*manage, command, str(path), "-v0"], env=env, capture_output=True, text=True
                )
                print(f"{size:,}: {imported.stdout.strip()}", flush=True)
                if imported.returncode:
                    raise SystemExit(f"{command} failed: {imported.stderr.strip()}")
            want_entries = min(100_000, max(100, size // 10))
            grow_directory(server, have_entries, want_entries)
            have_users, have_entries = size, want_entries
            output = subprocess.run([*manage, "bench_scale", "--size", str(size), "--runs", str(args.runs)],
                                    env=env, check=True, capture_output=True, text=True).stdout  # fmt: skip
            results += [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    finally:
        server.stop()

    (args.out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    operations = list(dict.fromkeys(r["operation"] for r in results))
    print(f"{'operation':34}" + "".join(f"{f'{s:,} users':>22}" for s in sizes))
    print(f"{'':34}" + "".join(f"{'median / p95 ms':>22}" for _ in sizes))
    for operation in operations:
        cells = []
        for size in sizes:
            row = next((r for r in results if r["operation"] == operation and r["size"] == size), None)
            cells.append(f"{row['median_ms']:.2f} / {row['p95_ms']:.2f}" if row else "—")
        target = f"   (target p95 ≤ {TARGETS_MS[operation]} ms)" if operation in TARGETS_MS else ""
        print(f"{operation:34}" + "".join(f"{c:>22}" for c in cells) + target)
    plot(results, sizes, operations, args.out / "latency.png")
    print(f"JSON: {args.out / 'results.json'}  plot: {args.out / 'latency.png'}")
    return 0


def plot(results: list[dict], sizes: list[int], operations: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 5.5))
    for operation in operations:
        points = [(r["size"], r["p95_ms"]) for r in results if r["operation"] == operation]
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=operation)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("customer users")
    axes.set_ylabel("p95 latency (ms)")
    axes.set_title("Service-layer latency against data size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
