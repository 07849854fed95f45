"""The directory sync at scale: a full run, an incremental run after changes made to the directory, and
250-row searches over the database alone and over the database plus the synced directory.

    manage.py bench_sync --source CustomerUser1 --db-source CustomerUser --root-dn … --root-pw … --out …

The process starts with the full run, so its peak resident size is the full run's. The changes are made
with python-ldap as the directory's administrator: 1 % of the entries modified, 0.5 % deleted, 0.5 % added;
the incremental run must apply exactly those. The searches alternate between the two registries term by
term, so both see the same load; caches are off; each page's rows are shown as a list shows them.
"""

import json
import random
import resource
import statistics
import time
from pathlib import Path

import ldap
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backends.registry import SourceHandler
from benchmarks.data import LAST_NAMES
from customers.selectors import search_customer_users
from customers.sync import sync_source

PAGE = 250


class Command(BaseCommand):
    help = "Time a full and an incremental directory sync and searches served from the shadow; write JSON."

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, help="the synced directory source")
        parser.add_argument("--db-source", required=True, help="the database source searched beside it")
        parser.add_argument("--root-dn", required=True)
        parser.add_argument("--root-pw", required=True)
        parser.add_argument("--searches", type=int, default=400)
        parser.add_argument("--out", type=Path, required=True)

    def handle(self, *args, source, db_source, root_dn, root_pw, searches, out, **options):
        started = time.perf_counter()
        full = sync_source(source, full=True)
        full_s = time.perf_counter() - started
        if not full.ok:
            raise CommandError(full.message)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        entries = full.run.counts.get("read", 0)
        self.stdout.write(f"full sync: {entries:,} entries in {full_s:.1f} s, peak {peak_mb:.0f} MB")

        expected = self._change_directory(source, root_dn, root_pw, entries)
        started = time.perf_counter()
        incremental = sync_source(source)
        incremental_s = time.perf_counter() - started
        if not incremental.ok:
            raise CommandError(incremental.message)
        counts = incremental.run.counts
        applied = {name: counts.get(name, 0) for name in ("changed", "gone", "added")}
        self.stdout.write(f"incremental sync: {applied} in {incremental_s:.2f} s (expected {expected})")

        configured = settings.CUSTOMER_USER_BACKENDS
        db_only = SourceHandler({db_source: {**configured[db_source], "CacheTTL": 0}})
        both = SourceHandler({alias: {**configured[alias], "CacheTTL": 0} for alias in (db_source, source)})
        stems = sorted({name[:3].lower() for name in LAST_NAMES if len(name) >= 4})
        rng = random.Random(36)
        terms = [f"{rng.choice(stems)}*" for _ in range(searches)]
        shadow = SourceHandler({source: {**configured[source], "CacheTTL": 0}})
        timings: dict[str, list[float]] = {"db": [], "both": [], "shadow": []}
        for registry in (db_only, both, shadow):
            search_customer_users(term="warm*", limit=PAGE, registry=registry)
        for term in terms:
            for key, registry in (("db", db_only), ("both", both), ("shadow", shadow)):
                begun = time.perf_counter()
                page = search_customer_users(term=term, limit=PAGE, registry=registry)
                shown = [record.display for record in page.rows]  # what a list shows of each row
                timings[key].append((time.perf_counter() - begun) * 1000)
                del shown
                if page.warnings:
                    raise CommandError(f"{term}: {page.warnings}")
        p95 = {key: statistics.quantiles(values, n=20)[-1] for key, values in timings.items()}
        result = {
            "entries": entries, "full_s": round(full_s, 2), "full_peak_mb": round(peak_mb, 1),
            "incremental_s": round(incremental_s, 3), "changes": sum(applied.values()),
            "expected_changes": sum(expected.values()), "applied": applied, "expected": expected,
            "search_p95_ms": round(p95["both"], 2), "db_only_p95_ms": round(p95["db"], 2),
            "search_ratio": round(p95["both"] / p95["db"], 2), "shadow_only_p95_ms": round(p95["shadow"], 2),
            "searches": searches, "rows": PAGE,
            "slowest": sorted(
                ({"term": t, **{k: round(v[i], 2) for k, v in timings.items()}} for i, t in enumerate(terms)),
                key=lambda row: -row["both"],
            )[:8],
        }  # fmt: skip
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2), encoding="utf-8")
        self.stdout.write(json.dumps(result))

    def _change_directory(self, alias: str, root_dn: str, root_pw: str, entries: int) -> dict[str, int]:
        """1 % modified, 0.5 % deleted, 0.5 % added, by the directory's administrator."""
        from backends.registry import sources

        directory = sources[alias]
        connection = ldap.initialize(" ".join(directory.uris))
        connection.simple_bind_s(root_dn, root_pw)
        found = connection.search_s(directory.base_dn, ldap.SCOPE_ONELEVEL, "(uid=*)", ["1.1"])
        dns = sorted(dn for dn, _ in found)
        modified, deleted = dns[0::100], dns[50::200]
        for dn in modified:
            connection.modify_s(dn, [(ldap.MOD_REPLACE, "sn", [b"Synced-Change"])])
        for dn in deleted:
            connection.delete_s(dn)
        added = max(1, entries // 200)
        for n in range(added):
            uid = f"new{n:07d}"
            connection.add_s(f"uid={uid},{directory.base_dn}", [
                ("objectClass", [b"inetOrgPerson"]), ("uid", [uid.encode()]), ("cn", [b"New Person"]),
                ("givenName", [b"New"]), ("sn", [b"Person"]), ("mail", [f"{uid}@example.org".encode()]),
                ("departmentNumber", [b"IMP-000001"]),
            ])  # fmt: skip
        connection.unbind_s()
        return {"changed": len(modified), "gone": len(deleted), "added": added}
