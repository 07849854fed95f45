"""Load N deterministic customer users (user00000 …) with international names, for benchmarks.

Loading twice adds nothing: existing logins are skipped.
"""

import random

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from customers.demo import NAMES
from customers.models import Customer, CustomerUser


class Command(BaseCommand):
    help = "Load deterministic benchmark customer users (user00000 …) into the own table."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=20000)
        parser.add_argument("--batch", type=int, default=5000)

    def handle(self, *args, count, batch, **options):
        rng = random.Random(count)
        customers = [f"BENCH-{n:03d}" for n in range(max(1, count // 100))]
        password = make_password("bench-password")
        with transaction.atomic():
            Customer.objects.bulk_create([Customer(customer_id=c, name=f"Bench {c}") for c in customers],
                                         ignore_conflicts=True)  # fmt: skip
            for start in range(0, count, batch):
                rows = []
                for n in range(start, min(count, start + batch)):
                    first, last = rng.choice(NAMES)
                    rows.append(CustomerUser(
                        login=f"user{n:05d}", first_name=first, last_name=last,
                        email=f"user{n:05d}@bench.example", customer_id=customers[n % len(customers)],
                        password=password,
                    ))  # fmt: skip
                CustomerUser.objects.bulk_create(rows, ignore_conflicts=True)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE customer_user")
        self.stdout.write(f"{count} benchmark customer users in {len(customers)} customers")
