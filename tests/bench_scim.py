"""`make bench-scim`: the SCIM server under load, written to var/bench/scim.json.

    python -m tests.stack python -m tests.bench_scim [--users 1000000] [--creates 10000] [--clients 8]

PostgreSQL grows to `users` customer users (imported as `make bench` imports them); gunicorn runs with the
README's settings (helpdesk.gunicorn_conf: 2 workers × 4 threads, production settings); `clients` threads
each with one keep-alive connection send `creates` POST /Users, then as many PATCHes (a new family name and
an e-mail address). Then `manage.py bench_scim_filter` times `userName eq` filters at the service layer.
Targets: ≥ 50 requests/s with no error, p95 ≤ 100 ms; the filter p95 ≤ 5 ms at 1M customer users.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from benchmarks.data import write_customer_users_csv, write_customers_csv
from tests.stack import free_port

TARGETS = {"per_s": 50, "p95_ms": 100, "filter_p95_ms": 5}
SCIM = "application/scim+json"


def run(phase: str, url: str, token: str, bodies: list, clients: int) -> tuple[list[float], list, float]:
    """Send every (method, path, body) on `clients` threads; latencies in ms, the answers, seconds taken."""
    latencies, answers, lock = [], [], threading.Lock()
    queue = list(enumerate(bodies))

    def work():
        session = requests.Session()
        session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": SCIM})
        while True:
            with lock:
                if not queue:
                    return
                index, (method, path, body) = queue.pop()
            started = time.perf_counter()
            response = session.request(method, url + path, data=json.dumps(body), timeout=60)
            took = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(took)
                answers.append((index, response.status_code, response.text if response.status_code >= 300 else
                                response.json().get("id")))  # fmt: skip

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    print(f"{phase}: {len(bodies)} requests in {elapsed:.1f} s", flush=True)
    return latencies, answers, elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=int(os.environ.get("BENCH_SCIM_USERS", "1000000")))
    parser.add_argument("--creates", type=int, default=int(os.environ.get("BENCH_SCIM_CREATES", "10000")))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("var/bench/scim.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="helpdesk-bench-scim-"))
    env = {**os.environ, "DJANGO_SECRET_KEY": "benchmark-only", "DJANGO_DEBUG": "0",
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_SECURE_COOKIES": "0", "LOG_LEVEL": "WARNING"}  # fmt: skip
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    customers, users = work / "customers.csv", work / "users.csv"
    companies = max(1, args.users // 10)
    write_customers_csv(customers, companies)
    write_customer_users_csv(users, args.users, companies)
    for command, path in (("import_customers", customers), ("import_customer_users", users)):
        subprocess.run([*manage, command, str(path), "-v0"], env=env, check=True)
    home = [f"IMP-{n:06d}" for n in range(min(50, companies))]
    token = subprocess.run(
        [*manage, "scim_client", "bench", "--source", "CustomerUser", "--rate", "1000000/minute",
         *(arg for company in home for arg in ("--company", company))],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:helpdesk.gunicorn_conf", "helpdesk.wsgi:application"],
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/scim/v2"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(
                    url + "/ServiceProviderConfig", headers={"Authorization": f"Bearer {token}"}, timeout=2
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.3)
        creates = [("POST", "/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"scim{n:06d}@bench.example",
            "externalId": f"bench-{n}", "name": {"givenName": "Sam", "familyName": f"Bench{n}"}, "active": True,
            "emails": [{"value": f"scim{n:06d}@bench.example", "type": "work", "primary": True}],
        }) for n in range(args.creates)]  # fmt: skip
        created_ms, created, created_s = run("creates", url, token, creates, args.clients)
        ids = [answer for _, status, answer in created if status == 201]
        patches = [("PATCH", f"/Users/{user_id}", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "Replace", "path": "name.familyName", "value": f"Patched{n}"},
                {"op": "Add", "path": 'emails[type eq "home"].value', "value": f"home{n}@bench.example"}]},
        ) for n, user_id in enumerate(ids)]  # fmt: skip
        patched_ms, patched, patched_s = run("patches", url, token, patches, args.clients)
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)
    filtered = work / "filter.json"
    subprocess.run(
        [*manage, "bench_scim_filter", "--client", "bench", "--out", str(filtered)], env=env, check=True
    )
    filter_figures = json.loads(filtered.read_text(encoding="utf-8"))
    errors = [(i, s, a[:200]) for i, s, a in created if s != 201] + [
        (i, s, a[:200]) for i, s, a in patched if s != 200
    ]
    everything = created_ms + patched_ms
    result = {
        "users": filter_figures["users"], "creates": len(creates), "patches": len(patches), "clients": args.clients,
        "creates_per_s": round(len(creates) / created_s, 1), "patches_per_s": round(len(patches) / patched_s, 1),
        "p95_ms": round(statistics.quantiles(everything, n=20)[-1], 1),
        "create_p95_ms": round(statistics.quantiles(created_ms, n=20)[-1], 1),
        "patch_p95_ms": round(statistics.quantiles(patched_ms, n=20)[-1], 1),
        "filter_p95_ms": filter_figures["filter_p95_ms"], "filter_p50_ms": filter_figures["filter_p50_ms"],
        "errors": len(errors), "first_errors": errors[:5], "targets": TARGETS,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nSCIM under gunicorn (2 workers × 4 threads), {args.clients} concurrent clients, "
          f"{result['users']:,} customer users")  # fmt: skip
    print(f"{'creates':24}{result['creates_per_s']:>10} /s   p95 {result['create_p95_ms']} ms")
    print(f"{'patches':24}{result['patches_per_s']:>10} /s   p95 {result['patch_p95_ms']} ms")
    print(
        f"{'all requests p95':24}{result['p95_ms']:>10} ms   target ≤ {TARGETS['p95_ms']} ms, ≥ {TARGETS['per_s']}/s"
    )
    print(
        f"{'userName eq filter p95':24}{result['filter_p95_ms']:>10} ms   target ≤ {TARGETS['filter_p95_ms']} ms"
    )
    print(f"{'errors':24}{result['errors']:>10}")
    print(f"JSON: {args.out}")
    met = (result["errors"] == 0 and result["p95_ms"] <= TARGETS["p95_ms"]
           and min(result["creates_per_s"], result["patches_per_s"]) >= TARGETS["per_s"]
           and result["filter_p95_ms"] <= TARGETS["filter_p95_ms"])  # fmt: skip
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
