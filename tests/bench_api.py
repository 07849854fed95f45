"""Requests/s and latency of the API under gunicorn as the README deploys it, with token authentication.

    python -m tests.stack python -m tests.bench_api [--users 1000000] [--seconds 15] [--concurrency 8]

Loads the benchmark users, starts gunicorn with helpdesk/gunicorn_conf.py (the README's workers and
threads) and drives it from threads with keep-alive connections in this process. Scenarios:
  search, 50 / 250 rows       prefix, infix and exact-login terms, pages of 50 and of 250 rows (the
                              reference's CustomerUserSearchListLimit), the shipped database source alone;
  data get                    the same source;
  data get, directory up      a directory first in R10 order, then the database (users from the latter);
  data get, directory frozen  the same with slapd stopped by SIGSTOP, after the first request's timeout.
Prints a table and writes var/bench/api.json.
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import tomli_w

from benchmarks.data import PREFIXES
from helpdesk.config import DEFAULT_CUSTOMER_USER_SOURCE
from tests.ldap_server import PEOPLE_DN, DirectoryServer, person
from tests.stack import free_port

ROOT = Path(__file__).resolve().parents[1]


def start_gunicorn(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:helpdesk.gunicorn_conf", "helpdesk.wsgi:application"],
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}, cwd=ROOT,
    )  # fmt: skip
    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def drive(port: int, token: str, paths, *, seconds: float, concurrency: int) -> dict:
    """`paths(rng)` gives the next path; returns requests/s and latency percentiles."""
    timings: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        local = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            connection.request("GET", paths(rng), headers={"Authorization": f"Token {token}"})
            response = connection.getresponse()
            response.read()
            local.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            timings.extend(local)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    q = statistics.quantiles(timings, n=100)
    return {
        "requests": len(timings), "requests_per_s": round(len(timings) / elapsed, 1),
        "p50_ms": round(statistics.median(timings), 1), "p95_ms": round(q[94], 1), "p99_ms": round(q[98], 1),
        "errors": errors[0],
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CACHE_", "HELPDESK_CONFIG"))}
    env.update(
        DJANGO_SECRET_KEY="benchmark-only",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_DEBUG="0",
        LOG_LEVEL="ERROR",
        HELPDESK_API_USER_RATE="",
    )  # fmt: skip  (one client, as fast as it can)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run(
        [*manage, "load_bench_customer_users", "--count", str(args.users)], env=env, check=True, cwd=ROOT
    )
    token = subprocess.run(
        [*manage, "shell", "-c", "from django.contrib.auth.models import User; "
         "from rest_framework.authtoken.models import Token; "
         "user = User.objects.filter(username='bench-api').first() or "
         "User.objects.create_superuser('bench-api', 'bench@example.com', 'bench-api-pass'); "
         "print(Token.objects.get_or_create(user=user)[0].key)"],
        env=env, check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout.split()[-1]  # fmt: skip
    workers = env.get("WEB_CONCURRENCY", "2")
    run = {"seconds": args.seconds, "concurrency": args.concurrency}

    def search(rows: int):
        def path(rng: random.Random) -> str:
            term = rng.choice([rng.choice(PREFIXES) + "*", f"user{rng.randrange(args.users):05d}",
                               f"*{rng.choice(PREFIXES).lower()}*"])  # fmt: skip
            return "/api/v1/customer-users/?" + urllib.parse.urlencode({"search": term, "limit": rows})

        return path

    def data_get(rng: random.Random) -> str:
        return f"/api/v1/customer-users/user{rng.randrange(args.users):05d}/"

    results = {}
    server, port = start_gunicorn(env)
    try:
        results["search, 50 rows"] = drive(port, token, search(50), **run)
        results["search, 250 rows"] = drive(port, token, search(250), **run)
        results["data get"] = drive(port, token, data_get, **run)
    finally:
        server.terminate()
        server.wait(30)

    directory = DirectoryServer()
    directory.start()
    directory.load("\n".join(person(f"dir{n}", "Dora", "Dir", customer_id="DIR") for n in range(100)))
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "helpdesk.toml"
        directory_source = {
            "Name": "Directory", "Module": "LDAP", "Timeout": 2, "RetryAfter": 30,
            "Params": {"Host": directory.ldap_uri, "BaseDN": PEOPLE_DN, "SSCOPE": "one", "Params": {"timeout": 2}},
            "CustomerKey": "uid", "CustomerID": "departmentNumber", "CustomerUserListFields": ["givenName", "sn"],
            "CustomerUserSearchFields": ["uid", "sn"], "CustomerUserNameFields": ["givenName", "sn"],
            "CustomerUserPostMasterSearchFields": ["mail"],
            "Map": [["UserFirstname", "Firstname", "givenName", 1, 1, "var"],
                    ["UserLastname", "Lastname", "sn", 1, 1, "var"], ["UserLogin", "Username", "uid", 1, 1, "var"],
                    ["UserEmail", "Email", "mail", 1, 1, "var"],
                    ["UserCustomerID", "CustomerID", "departmentNumber", 0, 1, "var"]],
        }  # fmt: skip
        sources = {
            "CustomerUser": directory_source,
            "CustomerUser1": copy.deepcopy(DEFAULT_CUSTOMER_USER_SOURCE),
        }
        config.write_text(tomli_w.dumps(sources), encoding="utf-8")
        server, port = start_gunicorn({**env, "HELPDESK_CONFIG": str(config)})
        try:
            results["data get, directory up"] = drive(port, token, data_get, **run)
            os.kill(directory._proc.pid, signal.SIGSTOP)
            started = time.perf_counter()  # the first request pays the timeout once
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", data_get(random.Random(0)), headers={"Authorization": f"Token {token}"})
            connection.getresponse().read()
            first_ms = (time.perf_counter() - started) * 1000
            results["data get, directory frozen"] = drive(port, token, data_get, **run)
            results["data get, directory frozen"]["first_request_ms"] = round(first_ms, 1)
        finally:
            os.kill(directory._proc.pid, signal.SIGCONT)
            server.terminate()
            server.wait(30)
            directory.stop()

    up, frozen = results["data get, directory up"], results["data get, directory frozen"]
    ratio = frozen["requests_per_s"] / up["requests_per_s"]
    print(f"API under gunicorn ({workers} workers × {env.get('GUNICORN_THREADS', '4')} threads, token auth), "
          f"{args.users:,} users, {args.concurrency} clients, {args.seconds:g} s per scenario")  # fmt: skip
    print(f"{'scenario':<28} {'req/s':>8} {'p50':>8} {'p95':>8} {'p99':>8} {'errors':>7}")
    for name, row in results.items():
        print(f"{name:<28} {row['requests_per_s']:>8.1f} {row['p50_ms']:>6.1f}ms {row['p95_ms']:>6.1f}ms "
              f"{row['p99_ms']:>6.1f}ms {row['errors']:>7}")  # fmt: skip
    print(
        f"frozen directory: first request {frozen['first_request_ms']:.0f} ms, then {ratio:.0%} of the "
        "throughput with the directory up"
    )
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    summary = {"users": args.users, "concurrency": args.concurrency, "workers": int(workers), "scenarios": results,
               "frozen_throughput_ratio": round(ratio, 3)}  # fmt: skip
    (out / "api.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
