"""Server time of the admin's customer-user list showing 1000 rows (request to rendered HTML).

Runs the real view through Django's test client as a staff user, on the configured database.
"""

import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.test import Client
from django.test.utils import setup_test_environment


class Command(BaseCommand):
    help = "Print the median and p95 server time of /admin/customer-users/ with 1000 rows."

    def add_arguments(self, parser):
        parser.add_argument("--rounds", type=int, default=30)
        parser.add_argument("--query", default="user*")

    def handle(self, *args, rounds, query, **options):
        setup_test_environment()
        admin, _ = get_user_model().objects.get_or_create(
            username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
        )  # every screen declares what it needs: the benchmark reads as a superuser
        client = Client()
        client.force_login(admin)
        url = "/admin/customer-users/"
        params = {"q": query, "limit": "1000"}
        response = client.get(url, params)
        rows = len(response.context["page"].rows)
        timings = []
        for _ in range(rounds):
            started = time.perf_counter()
            response = client.get(url, params)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        median, p95 = statistics.median(timings), statistics.quantiles(timings, n=20)[-1]
        size = len(response.content) // 1024
        self.stdout.write(
            f"customer-user list, {rows} rows: median {median:.1f} ms, p95 {p95:.1f} ms "
            f"({rounds} requests, {size} KiB of HTML)"
        )
