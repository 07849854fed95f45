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

TARGETS_MS = {  # p95 at 1,000,000 customer users, 250 rows per search page
    "search_prefix": 15, "search_infix": 15, "search_rare": 5, "search_miss": 5, "search_postmaster": 1.5,
    "data_get": 1.5, "customer_ids": 1.5, "permission_matrix": 3, "count_valid": 150, "search_db_ldap": 20,
    "search_screen": 15, "search_unaccented": 20,
}  # fmt: skip
FLOOR_RATIO = {"search_prefix": 4, "search_infix": 4}  # at most this many times the floor's p95


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
                                    env=env, check=True, stdout=subprocess.PIPE, text=True).stdout  # fmt: skip
            results += [json.loads(line) for line in output.splitlines() if line.startswith("{")]
            if "PLANS\n" in output:
                (args.out / f"plans-{size}.txt").write_text(output.split("PLANS\n", 1)[1], encoding="utf-8")
    finally:
        server.stop()

    (args.out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print_table(results, sizes)
    plot(results, args.out / "latency.png")
    print(f"JSON: {args.out / 'results.json'}  plot: {args.out / 'latency.png'}")
    return 0


def print_table(results: list[dict], sizes: list[int]) -> None:
    """p95 against the floor's p95, per operation and size, with the targets."""
    keys = list(dict.fromkeys(r["key"] for r in results))
    labels = {r["key"]: r["operation"] for r in results}
    print(f"{'operation':34}{'rows':>5}" + "".join(f"{f'{s:,} users':>26}" for s in sizes))
    print(f"{'':39}" + "".join(f"{'p95 / floor p95 ms (×)':>26}" for _ in sizes))
    for key in keys:
        cells = []
        for size in sizes:
            row = next((r for r in results if r["key"] == key and r["size"] == size), None)
            ratio = row["p95_ms"] / row["floor_p95_ms"] if row and row["floor_p95_ms"] else 0
            cells.append(f"{row['p95_ms']:.2f} / {row['floor_p95_ms']:.2f} ({ratio:.1f})" if row else "—")
        rows = next(r["rows"] for r in results if r["key"] == key)
        target = f"   target p95 ≤ {TARGETS_MS[key]} ms" if key in TARGETS_MS else ""
        target += f", ≤ {FLOOR_RATIO[key]}× floor" if key in FLOOR_RATIO else ""
        print(f"{labels[key]:34}{rows:>5}" + "".join(f"{c:>26}" for c in cells) + target)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 5.5))
    for key in dict.fromkeys(r["key"] for r in results):
        points = [(r["size"], r["p95_ms"]) for r in results if r["key"] == key]
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=key)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("customer users")
    axes.set_ylabel("p95 latency (ms)")
    axes.set_title("Service-layer p95 latency against data size (searches: 250 rows)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
