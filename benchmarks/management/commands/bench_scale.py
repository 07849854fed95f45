"""Latency of the service layer at the data size loaded now, against the floor: one JSON line per operation.

    manage.py bench_scale --size 1000000 [--runs 200]

Every operation is timed together with its *floor*: the minimal indexed SQL statement (through a psycopg2
connection of its own) or directory search (python-ldap) that returns the same answer, run on the same
input right after it, so both see the same load. For `search_db_ldap` the floor is the slower of the two
sources for that input, since the sources are asked in parallel. Caches are off, so every run reaches the
sources. Searches ask for a full page of 250 rows (the reference's `CustomerUserSearchListLimit`).
"""

import contextlib
import json
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import ldap
import psycopg2
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backends.folding import fold
from backends.registry import SourceHandler
from benchmarks.data import LAST_NAMES
from customers.models import SEARCH_KEY_SEPARATOR, CustomerUser
from customers.people_search import find_customer_users
from customers.selectors import customer_ids_of, get_customer_user, search_customer_users
from permissions.matrix import build_permission_matrix

PAGE = 250
COLUMNS = ", ".join(f.column for f in CustomerUser._meta.concrete_fields if not f.generated)
PREFIX_COLUMNS = ("login", "first_name", "last_name", "customer_id")  # the shipped search fields (R43)


@dataclass(frozen=True)
class Operation:
    key: str
    label: str
    rows: int  # results asked for
    make_input: Callable[[], str]
    run: Callable[[str], object]  # the service layer; returns the answer
    floor: Callable[[str], float]  # the minimal statement for the same answer; returns its seconds
    returned: Callable[[object], int] = lambda answer: 1


def prefix_floor_sql(valid: bool = True) -> str:
    """The first 250 rows any of whose search fields starts with the term: one index range per field."""
    where_valid = "valid_id = 1 AND " if valid else ""
    branches = " UNION ".join(
        f'(SELECT id FROM customer_user WHERE {where_valid}lower({column}) COLLATE "C" LIKE %(pattern)s'
        f' ORDER BY lower({column}) COLLATE "C" LIMIT {PAGE})'
        for column in PREFIX_COLUMNS
    )
    return f"SELECT {COLUMNS} FROM customer_user WHERE id IN ({branches}) LIMIT {PAGE}"


class Command(BaseCommand):
    help = "Print one JSON line per operation: median and p95 latency (ms) and the floor's p95."

    def add_arguments(self, parser):
        parser.add_argument("--size", type=int, required=True, help="customer users loaded (for the report)")
        parser.add_argument("--runs", type=int, default=200)
        parser.add_argument("--users", type=int, help="logins cu0000000 … below this exist (default: --size)")

    def handle(self, *args, size, runs, users, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_scale measures PostgreSQL (run it under tests.stack)")
        users = users or size
        configured = settings.CUSTOMER_USER_BACKENDS
        uncached = {alias: {**config, "CacheTTL": 0} for alias, config in configured.items()}
        prefix_only = {**uncached["CustomerUser"], "CustomerUserSearchPrefix": ""}
        db = SourceHandler({"CustomerUser": prefix_only})
        infix = SourceHandler({"CustomerUser": {**uncached["CustomerUser"], "CustomerUserSearchPrefix": "*"}})
        rng = random.Random(size)
        stems = sorted({name[:3].lower() for name in LAST_NAMES if len(name) >= 4})
        middles = sorted({name[1:4].lower() for name in LAST_NAMES if len(name) >= 5})
        # Stems typed without their accents (`woj` for Wójcik): the reference finds none, the folded key all.
        unaccented = sorted(
            {fold(n[:3]) for n in LAST_NAMES if fold(n[:3]) != n[:3].lower() and fold(n[:3]).isascii()}
        )
        floor_db = psycopg2.connect(**_psycopg2_params())
        floor_db.autocommit = True
        cursor = floor_db.cursor()

        def sql(statement: str, **params) -> float:
            started = time.perf_counter()
            cursor.execute(statement, params)
            cursor.fetchall()
            return time.perf_counter() - started

        def login() -> str:
            return f"cu{rng.randrange(users):07d}"

        def page(answer) -> int:
            return len(answer.rows)

        prefix_sql = prefix_floor_sql()

        def prefix_search(key: str, label: str, make_term) -> Operation:
            """A term `x*` through the service, against the union of the prefix indexes' ranges."""
            return Operation(
                key, label, PAGE, make_term,
                lambda term: search_customer_users(term=term, limit=PAGE, registry=db),
                lambda term: sql(prefix_sql, pattern=term[:-1] + "%"), page,
            )  # fmt: skip

        operations = [
            prefix_search("search_prefix", "prefix search (mül*)", lambda: f"{rng.choice(stems)}*"),
            Operation(
                "search_infix", "infix search (*ller*)", PAGE, lambda: f"*{rng.choice(middles)}*",
                lambda term: search_customer_users(term=term, limit=PAGE, registry=infix),
                lambda term: sql(
                    f"SELECT {COLUMNS} FROM customer_user WHERE valid_id = 1 AND search_key LIKE %(p)s"
                    f" LIMIT {PAGE}", p=f"%{term.strip('*')}%",
                ), page,
            ),
            Operation(
                "search_screen", "screens' search, R43 fills (mül)", PAGE, lambda: rng.choice(stems),
                lambda text: find_customer_users(text, limit=PAGE, registry=db),
                lambda text: sql(prefix_sql, pattern=text + "%"), page,
            ),
            Operation(
                "search_unaccented", "screens' search, unaccented (woj)", PAGE,
                lambda: rng.choice(unaccented),
                lambda text: find_customer_users(text, limit=PAGE, registry=db),
                lambda text: sql(
                    f"SELECT {COLUMNS} FROM customer_user WHERE valid_id = 1 AND search_key_folded LIKE %(t)s"
                    f" LIMIT {PAGE}",
                    t=f"%{SEARCH_KEY_SEPARATOR}{text}%",
                ), page,
            ),
            prefix_search("search_rare", "rare term (cu000123*)", lambda: f"{login()[:-1]}*"),
            prefix_search("search_miss", "missing term (zq123x*)", lambda: f"zq{rng.randrange(1000):03d}x*"),
            Operation(
                "search_postmaster", "postmaster search (exact e-mail)", PAGE,
                lambda: f"{login()}@import.example",
                lambda email: search_customer_users(postmaster=email, limit=PAGE, registry=db),
                lambda email: sql(
                    f"SELECT {COLUMNS} FROM customer_user WHERE lower(email) = %(e)s AND valid_id = 1"
                    f" LIMIT {PAGE}", e=email,
                ), page,
            ),
            Operation(
                "data_get", "data get by login", 1, login,
                lambda who: get_customer_user(who, registry=db, enrich=False),
                lambda who: sql(f"SELECT {COLUMNS} FROM customer_user WHERE lower(login) = %(l)s", l=who),
            ),
            Operation(
                "customer_ids", "customer ids of a user", 1, login,
                lambda who: customer_ids_of(get_customer_user(who, registry=db, enrich=False), registry=db),
                lambda who: sql(
                    "SELECT u.customer_id, ARRAY(SELECT c.customer_id FROM customer_user_customer c"
                    " WHERE c.login = u.login ORDER BY 1) FROM customer_user u WHERE lower(u.login) = %(l)s",
                    l=who,
                ),
            ),
            Operation(
                "permission_matrix", "permission matrix (cold)", 1, login,
                lambda who: build_permission_matrix(who, registry=db),
                lambda who: sql(
                    "WITH u AS (SELECT login, customer_id FROM customer_user WHERE lower(login) = %(l)s)"
                    " SELECT g.name, ug.permission_key, '' FROM group_customer_user ug"
                    " JOIN customers_group g ON g.id = ug.group_id JOIN u ON ug.login = u.login"
                    " WHERE g.valid_id = 1 UNION ALL"
                    " SELECT g.name, cg.permission_key, cg.customer_id FROM group_customer cg"
                    " JOIN customers_group g ON g.id = cg.group_id WHERE g.valid_id = 1"
                    " AND cg.permission_context = 'Same' AND cg.customer_id IN (SELECT customer_id FROM u"
                    " UNION SELECT c.customer_id FROM customer_user_customer c JOIN u ON c.login = u.login)",
                    l=who,
                ),
            ),
            Operation(
                "count_valid", "exact count of valid users", 1, lambda: "",
                lambda _: db["CustomerUser"].count(valid_only=True),
                lambda _: sql("SELECT count(*) FROM customer_user WHERE valid_id = 1"),
            ),
        ]  # fmt: skip
        if "CustomerUser1" in configured:
            both = SourceHandler({"CustomerUser": prefix_only, "CustomerUser1": uncached["CustomerUser1"]})
            directory = _DirectoryFloor(configured["CustomerUser1"])

            def slower_source(term: str) -> float:
                return max(sql(prefix_sql, pattern=term[:-1] + "%"), directory.search(term))

            operations.append(Operation(
                "search_db_ldap", "DB + LDAP search", PAGE, lambda: f"{rng.choice(stems)}*",
                lambda term: search_customer_users(term=term, limit=PAGE, registry=both), slower_source, page,
            ))  # fmt: skip
        try:
            for operation in operations:
                self.stdout.write(json.dumps(_measure(operation, size, runs)))
            plans = [
                _plan(
                    f"search {term}",
                    lambda t=term, r=registry: search_customer_users(term=t, limit=PAGE, registry=r),
                )
                for term, registry in (("mül*", db), ("*ller*", infix))
            ]
            self.stdout.write("\n".join(["PLANS", *plans]))
        finally:
            floor_db.close()


def _plan(label: str, run: Callable[[], object]) -> str:
    """EXPLAIN ANALYZE of the statement the service ran last for `run` (after a warm run)."""
    run()
    with CaptureQueriesContext(connection) as queries:
        run()
    statement = queries.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return f"-- {label}\n{statement}\n{plan}\n"


def _measure(operation: Operation, size: int, runs: int) -> dict:
    for _ in range(min(50, runs)):  # connections, code and the pages they read: steady state
        value = operation.make_input()
        operation.run(value)
        operation.floor(value)
    timings, floors, returned = [], [], []
    for _ in range(runs):
        value = operation.make_input()
        started = time.perf_counter()
        answer = operation.run(value)
        timings.append((time.perf_counter() - started) * 1000)
        returned.append(operation.returned(answer))
        floors.append(operation.floor(value) * 1000)
    return {
        "key": operation.key,
        "operation": operation.label,
        "size": size,
        "rows": operation.rows,
        "rows_returned_median": statistics.median(returned),
        "runs": runs,
        "median_ms": round(statistics.median(timings), 3),
        "p95_ms": round(_p95(timings), 3),
        "floor_median_ms": round(statistics.median(floors), 3),
        "floor_p95_ms": round(_p95(floors), 3),
    }


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def _psycopg2_params() -> dict:
    db = settings.DATABASES["default"]
    return {
        "dbname": db["NAME"], "user": db.get("USER") or None, "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or None, "port": db.get("PORT") or None,
    }  # fmt: skip


class _DirectoryFloor:
    """The directory's part of a term search as one plain python-ldap search of the same filter."""

    def __init__(self, config: dict) -> None:
        params = config["Params"]
        self.base, self.always = params["BaseDN"], params.get("AlwaysFilter", "")
        self.valid = config.get("CustomerUserValidFilter", "")
        self.fields = config["CustomerUserSearchFields"]
        self.attributes = [row[2] for row in config["Map"]]
        self.scope = ldap.SCOPE_ONELEVEL if params.get("SSCOPE") == "one" else ldap.SCOPE_SUBTREE
        self.connection = ldap.initialize(params["Host"])
        self.connection.simple_bind_s(params.get("UserDN", ""), params.get("UserPw", ""))

    def search(self, term: str) -> float:
        started = time.perf_counter()
        either = "".join(f"({field}={term})" for field in self.fields)
        filterstr = f"(&{self.always}{self.valid}(|{either}))"
        with contextlib.suppress(ldap.SIZELIMIT_EXCEEDED):  # 250 entries: the page is full
            self.connection.search_ext_s(self.base, self.scope, filterstr, self.attributes, sizelimit=PAGE)
        return time.perf_counter() - started
