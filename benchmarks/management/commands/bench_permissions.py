"""Time the effective matrix of a customer user with 3 customers and 200 groups, cold and warm.

Warm reads go through the configured shared cache (the database cache by default): "warm" is this
process's copy (one look-up of the generations), "warm, shared cache" an answer another process computed,
"after a write" a rebuild once a write renewed the generation.

Runs on the configured database inside a transaction that is rolled back, so nothing is left behind.
"""

import json
import statistics
import time
from pathlib import Path

from django.core.cache import cache, caches
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, reset_queries, transaction

from backends.registry import sources
from core.generations import forget_in_process, forget_permission_answers
from customers.directory_rules import preview_directory_rules
from customers.models import (
    Customer,
    CustomerGroup,
    CustomerUser,
    CustomerUserCustomer,
    CustomerUserGroup,
    Group,
)
from customers.selectors import get_customer_user
from permissions.matrix import build_permission_matrix, get_permission_matrix


def _timed(rounds: int, work) -> list[float]:
    took = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        took.append((time.perf_counter() - started) * 1000)
    return took


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Print cold and warm timings of the effective permission matrix (3 customers, 200 groups)."

    def add_arguments(self, parser):
        parser.add_argument("--groups", type=int, default=200)
        parser.add_argument("--rounds", type=int, default=200)
        parser.add_argument(
            "--login", help="time this customer user's cold matrix and its source's rules preview instead"
        )
        parser.add_argument("--out", type=Path, help="with --login: write the figures here as JSON")

    def handle(self, *args, groups, rounds, login=None, out=None, **options):
        if login:
            self._directory(login, rounds, out)
            return
        try:
            with transaction.atomic():
                self._run(groups, rounds)
                raise Rollback
        except Rollback:
            pass

    def _directory(self, login: str, rounds: int, out: Path | None) -> None:
        """A customer user whose source's rules give their groups (issue 37): every customer and customer
        group a rule names is made first (as CreateMissing would), then cold builds, and the rules preview."""
        record = get_customer_user(login, enrich=False)
        if record is None:
            raise CommandError(f"No source knows {login!r}.")
        source = sources[record.source]
        names = {rule.group for rule in source.group_rules} | {"unrelated-group"}
        Group.objects.bulk_create([Group(name=name) for name in sorted(names)], ignore_conflicts=True)
        companies = {rule.company for rule in source.company_rules if "{value}" not in rule.company}
        Customer.objects.bulk_create(
            [Customer(customer_id=c, name=c) for c in companies], ignore_conflicts=True
        )
        build_permission_matrix(login)  # connection and code warm-up
        cold = _timed(rounds, lambda: build_permission_matrix(login))
        preview = _timed(max(20, rounds // 4), lambda: preview_directory_rules(record.source, login))
        matrix = build_permission_matrix(login)
        figures = {
            "source": record.source, "synced": source.runs_inline, "rounds": rounds,
            "groups_allowing_ro": len(matrix.group_names("ro")),
            "cold_median_ms": round(statistics.median(cold), 3),
            "cold_p95_ms": round(statistics.quantiles(cold, n=20)[-1], 3),
            "preview_median_ms": round(statistics.median(preview), 3),
            "preview_p95_ms": round(statistics.quantiles(preview, n=20)[-1], 3),
        }  # fmt: skip
        self.stdout.write(json.dumps(figures))
        if out is not None:
            out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")

    def _run(self, group_count, rounds):
        ids = [f"BENCH-C{n}" for n in range(3)]
        Customer.objects.bulk_create([Customer(customer_id=c, name=c) for c in ids])
        CustomerUser.objects.create(login="bench-user", email="bench@example.com", customer_id=ids[0],
                                    first_name="Bench", last_name="User")  # fmt: skip
        groups = Group.objects.bulk_create([Group(name=f"bench-group-{n:03d}") for n in range(group_count)])
        CustomerUserCustomer.objects.bulk_create([CustomerUserCustomer(login="bench-user", customer_id=c)
                                                  for c in ids[1:]])  # fmt: skip
        CustomerUserGroup.objects.bulk_create(
            [CustomerUserGroup(login="bench-user", group=g, permission="ro") for g in groups[::2]]
        )
        CustomerGroup.objects.bulk_create(
            [
                CustomerGroup(customer_id=ids[n % 3], group=g, permission="rw")
                for n, g in enumerate(groups[::3])
            ]
        )
        if connection.vendor == "postgresql":
            # Planner statistics as autovacuum would have them for committed data.
            with connection.cursor() as cursor:
                for model in (Group, CustomerGroup, CustomerUserGroup, CustomerUserCustomer, CustomerUser):
                    cursor.execute(f'ANALYZE "{model._meta.db_table}"')
        build_permission_matrix("bench-user")  # connection and code warm-up

        from django.conf import settings

        debug, settings.DEBUG = settings.DEBUG, True
        reset_queries()
        matrix = build_permission_matrix("bench-user")
        queries = len(connection.queries)
        settings.DEBUG = debug

        cold = []
        for _ in range(rounds):
            started = time.perf_counter()
            build_permission_matrix("bench-user")
            cold.append((time.perf_counter() - started) * 1000)
        empty_cache = []
        for _ in range(rounds):
            cache.clear()
            started = time.perf_counter()
            build_permission_matrix("bench-user")
            empty_cache.append((time.perf_counter() - started) * 1000)
        get_permission_matrix("bench-user")
        warm = []
        for _ in range(rounds):
            started = time.perf_counter()
            get_permission_matrix("bench-user")
            warm.append((time.perf_counter() - started) * 1000)
        shared = []
        for _ in range(rounds):
            forget_in_process()
            started = time.perf_counter()
            get_permission_matrix("bench-user")
            shared.append((time.perf_counter() - started) * 1000)
        after_write = []
        for _ in range(rounds):
            forget_permission_answers()
            started = time.perf_counter()
            get_permission_matrix("bench-user")
            after_write.append((time.perf_counter() - started) * 1000)

        allowed = len(matrix.group_names("ro"))
        self.stdout.write(
            f"database: {connection.vendor}; {group_count} groups, 3 customers; "
            f"{allowed} groups allow ro; {queries} queries per cold build"
        )
        self.stdout.write(f"{'':20} {'median ms':>10} {'p95 ms':>10}")
        self.stdout.write(f"shared cache: {type(caches['default']).__name__}")
        rows = (
            ("cold", cold),
            ("cold, empty cache", empty_cache),
            ("warm", warm),
            ("warm, shared cache", shared),
            ("after a write", after_write),
        )
        for name, values in rows:
            p95 = statistics.quantiles(values, n=20)[-1]
            self.stdout.write(f"{name:20} {statistics.median(values):10.3f} {p95:10.3f}")
