"""Throughput of `GET /api/v1/customer-users/?search=` under gunicorn (2 workers) on PostgreSQL.

    python -m tests.stack python -m tests.bench_api [--users 1000000] [--seconds 30] [--concurrency 8]

Loads the benchmark users, starts gunicorn on a loopback port, and drives it from a load generator in this
process (threads with keep-alive connections); prints requests/s and latency percentiles.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

from helpdesk.benchmarks import PREFIXES


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    env = {**os.environ, "DJANGO_SECRET_KEY": "benchmark-only", "DJANGO_ALLOWED_HOSTS": "127.0.0.1"}
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
    subprocess.run([*manage, "load_bench_customer_users", "--count", str(args.users)], env=env, check=True)
    token = subprocess.run(
        [*manage, "shell", "-c", "from django.contrib.auth.models import User; "
         "from rest_framework.authtoken.models import Token; "
         "user = User.objects.filter(username='bench-api').first() or "
         "User.objects.create_user('bench-api', password='bench-api-pass', is_staff=True); "
         "print(Token.objects.get_or_create(user=user)[0].key)"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.split()[-1]  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "helpdesk.wsgi:application", "--workers", "2",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        env=env,
    )  # fmt: skip
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        auth = f"Token {token}"  # Basic would hash the password (PBKDF2) on every request
        timings: list[float] = []
        errors = [0]
        lock = threading.Lock()
        stop = time.monotonic() + args.seconds

        def worker(seed: int) -> None:
            rng = random.Random(seed)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            local = []
            while time.monotonic() < stop:
                term = rng.choice([rng.choice(PREFIXES) + "*", f"user{rng.randrange(args.users):05d}",
                                   f"*{rng.choice(PREFIXES).lower()}*"])  # fmt: skip
                path = "/api/v1/customer-users/?" + urllib.parse.urlencode({"search": term, "limit": 25})
                started = time.perf_counter()
                connection.request("GET", path, headers={"Authorization": auth})
                response = connection.getresponse()
                response.read()
                local.append((time.perf_counter() - started) * 1000)
                if response.status != 200:
                    with lock:
                        errors[0] += 1
            with lock:
                timings.extend(local)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.concurrency)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        q = statistics.quantiles(timings, n=100)
        print(f"GET /api/v1/customer-users/?search= ({args.users:,} users, gunicorn 2 workers, "
              f"{args.concurrency} clients, {elapsed:.0f} s): {len(timings) / elapsed:.1f} requests/s, "
              f"median {statistics.median(timings):.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms, "
              f"{errors[0]} errors")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
