"""Latency and throughput of the service layer at the data size loaded now: one JSON line per operation.

    manage.py bench_scale --size 1000000 [--runs 200]

Operations: prefix and infix search on the last name, postmaster search by e-mail, data get by login,
customer ids of a user, the effective permission matrix, and searches over DB only, LDAP only and DB + LDAP
(the sources configured as CustomerUser and CustomerUser1). Caches are off, so every run reaches the sources.
"""

import json
import random
import statistics
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from backends.registry import SourceHandler
from benchmarks.data import LAST_NAMES
from customers.selectors import customer_ids_of, get_customer_user, search_customer_users
from permissions.matrix import build_permission_matrix


class Command(BaseCommand):
    help = "Print one JSON line per operation: median and p95 latency (ms) and throughput (ops/s)."

    def add_arguments(self, parser):
        parser.add_argument("--size", type=int, required=True, help="customer users loaded (for the report)")
        parser.add_argument("--runs", type=int, default=200)
        parser.add_argument("--users", type=int, help="logins cu0000000 … below this exist (default: --size)")

    def handle(self, *args, size, runs, users, **options):
        users = users or size
        configured = settings.CUSTOMER_USER_BACKENDS
        uncached = {alias: {**config, "CacheTTL": 0} for alias, config in configured.items()}
        db = SourceHandler({"CustomerUser": {**uncached["CustomerUser"], "CustomerUserSearchPrefix": ""}})
        infix = SourceHandler({"CustomerUser": {**uncached["CustomerUser"], "CustomerUserSearchPrefix": "*"}})
        rng = random.Random(size)
        stems = sorted({name[:3].lower() for name in LAST_NAMES if len(name) >= 4})
        middles = sorted({name[1:4].lower() for name in LAST_NAMES if len(name) >= 5})

        def login() -> str:
            return f"cu{rng.randrange(users):07d}"

        operations = {
            "prefix search (mül*)": lambda: search_customer_users(
                term=f"{rng.choice(stems)}*", limit=50, registry=db
            ),
            "infix search (*ller*)": lambda: search_customer_users(
                term=f"*{rng.choice(middles)}*", limit=50, registry=infix
            ),
            "postmaster search (exact e-mail)": lambda: search_customer_users(
                postmaster=f"{login()}@import.example", registry=db
            ),
            "data get by login": lambda: get_customer_user(login(), registry=db, enrich=False),
            "customer ids of a user": lambda: customer_ids_of(
                get_customer_user(login(), registry=db, enrich=False), registry=db
            ),
            "permission matrix": lambda: build_permission_matrix(login(), registry=db),
        }
        if "CustomerUser1" in configured:
            ldap = SourceHandler({"CustomerUser1": uncached["CustomerUser1"]})
            both = SourceHandler(
                {"CustomerUser": uncached["CustomerUser"], "CustomerUser1": uncached["CustomerUser1"]}
            )
            operations["LDAP-only search"] = lambda: search_customer_users(
                term=f"{rng.choice(stems)}*", limit=50, registry=ldap
            )
            operations["DB + LDAP search"] = lambda: search_customer_users(
                term=f"{rng.choice(stems)}*", limit=50, registry=both
            )
        db_only = SourceHandler({"CustomerUser": uncached["CustomerUser"]})
        operations["DB-only search"] = lambda: search_customer_users(
            term=f"{rng.choice(stems)}*", limit=50, registry=db_only
        )
        for name, operation in operations.items():
            for _ in range(min(50, runs)):  # connections, code and the pages it reads: steady state
                operation()
            timings = []
            for _ in range(runs):
                started = time.perf_counter()
                operation()
                timings.append((time.perf_counter() - started) * 1000)
            self.stdout.write(
                json.dumps(
                    {
                        "size": size,
                        "operation": name,
                        "runs": runs,
                        "median_ms": round(statistics.median(timings), 3),
                        "p95_ms": round(statistics.quantiles(timings, n=20)[-1], 3),
                        "ops_per_s": round(runs / (sum(timings) / 1000), 1),
                    }
                )
            )
