"""Time 200 varied customer-user searches through the registry, for the sources named.

    manage.py bench_search --sources CustomerUser CustomerUser1 CustomerUser2

Reads go through the same path as the screens and the API (customers.selectors.search_customer_users),
with CacheTTL forced to 0 so every search reaches its sources. Prints the median and the 95th percentile.
"""

import statistics
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backends.registry import SourceHandler
from benchmarks.data import search_terms
from customers.selectors import search_customer_users


class Command(BaseCommand):
    help = "Print the median and p95 latency of 200 varied searches over the named sources."

    def add_arguments(self, parser):
        parser.add_argument("--sources", nargs="+", required=True, help="source aliases, e.g. CustomerUser")
        parser.add_argument("--searches", type=int, default=200)
        parser.add_argument("--label", default="")

    def handle(self, *args, sources, searches, label, **options):
        configured = settings.CUSTOMER_USER_BACKENDS
        unknown = [alias for alias in sources if alias not in configured]
        if unknown:
            raise CommandError(
                f"--sources: {', '.join(unknown)} not configured; configured: {', '.join(configured)}"
            )
        registry = SourceHandler({alias: {**configured[alias], "CacheTTL": 0} for alias in sources})
        terms = search_terms(searches)
        search_customer_users(term="warm*", registry=registry)  # connections and code
        timings, rows, warnings = [], 0, 0
        for term in terms:
            started = time.perf_counter()
            page = search_customer_users(**term, registry=registry)
            timings.append((time.perf_counter() - started) * 1000)
            rows += len(page.rows)
            warnings += len(page.warnings)
        median, p95 = statistics.median(timings), statistics.quantiles(timings, n=20)[-1]
        self.stdout.write(
            f"{label or ' + '.join(sources):28} median {median:7.2f} ms   p95 {p95:7.2f} ms"
            f"   ({len(terms)} searches, {rows} rows, {warnings} warnings)"
        )
