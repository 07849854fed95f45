"""Server time of the customer panel's company-tickets list for a customer with 10,000 tickets.

Runs the real view through Django's test client with a logged-in customer session, inside a transaction
that is rolled back, so nothing is left behind.
"""

import statistics
import time

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import Client
from django.test.utils import setup_test_environment

from customers.models import Customer, CustomerUser, CustomerUserGroup, Group
from helpdesk.portal.views import SESSION_KEY
from tickets.models import Queue, Ticket


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Print the median and p95 server time of the company-tickets list (10,000 tickets)."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=10_000)
        parser.add_argument("--rounds", type=int, default=50)

    def handle(self, *args, tickets, rounds, **options):
        setup_test_environment()
        try:
            with transaction.atomic():
                self._run(tickets, rounds)
                raise Rollback
        except Rollback:
            pass

    def _run(self, count, rounds):
        Customer.objects.create(customer_id="BENCH-CO", name="Bench Company")
        CustomerUser.objects.create(
            login="bench-customer",
            customer_id="BENCH-CO",
            email="bc@example.com",
            first_name="Bench",
            last_name="Customer",
        )
        group = Group.objects.create(name="bench-support")
        CustomerUserGroup.objects.create(login="bench-customer", group=group, permission="rw")
        queue = Queue.objects.create(name="Bench queue", group=group)
        Ticket.objects.bulk_create(
            [
                Ticket(
                    number=f"9{n:09d}",
                    title=f"Bench ticket {n}",
                    queue=queue,
                    customer_id="BENCH-CO",
                    customer_user_login=f"colleague{n % 50}",
                )
                for n in range(count)
            ],
            batch_size=5000,
        )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE tickets_ticket")
        client = Client()
        session = client.session
        session[SESSION_KEY] = "bench-customer"
        session.save()
        client.cookies["sessionid"] = session.session_key
        for label, params in (
            ("newest first", {"scope": "company"}),
            ("by title", {"scope": "company", "order": "title"}),
            ("search", {"scope": "company", "q": "ticket 99"}),
        ):
            response = client.get("/tickets/", params)
            assert response.status_code == 200, response.status_code
            total = response.context["page"].total
            timings = []
            for _ in range(rounds):
                started = time.perf_counter()
                client.get("/tickets/", params)
                timings.append((time.perf_counter() - started) * 1000)
            median, p95 = statistics.median(timings), statistics.quantiles(timings, n=20)[-1]
            self.stdout.write(
                f"company tickets, {label:12} ({total} of {count} tickets): median {median:.1f} ms, "
                f"p95 {p95:.1f} ms"
            )
