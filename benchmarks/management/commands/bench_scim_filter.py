"""Time SCIM's `userName eq` filter at the service layer (provisioning.scim.list_users), as identity
providers send it before every create: logins of the client's companies (one result) and logins of other
companies (none), p50/p95 in ms, as JSON."""

import json
import random
import statistics
import time
from pathlib import Path

from django.core.management.base import BaseCommand

from customers.models import CustomerUser
from provisioning import scim
from provisioning.clients import get_scim_client


class Command(BaseCommand):
    help = "Time SCIM userName eq filters of one client at the service layer."

    def add_arguments(self, parser):
        parser.add_argument("--client", required=True)
        parser.add_argument("--rounds", type=int, default=400)
        parser.add_argument("--out", type=Path)

    def handle(self, *args, client, rounds, out=None, **options):
        scim_client = get_scim_client(client)
        own = list(scim.visible_users(scim_client).values_list("login", flat=True)[:2000])
        last = CustomerUser.objects.order_by("-pk").values_list("pk", flat=True).first() or 1
        rng = random.Random(38)
        others = list(CustomerUser.objects.filter(pk__in=[rng.randrange(1, last) for _ in range(rounds)])
                      .values_list("login", flat=True))  # fmt: skip
        timed, found = [], 0
        for n in range(rounds):
            login = rng.choice(own) if n % 2 == 0 and own else rng.choice(others or own)
            started = time.perf_counter()
            page = scim.list_users(scim_client, filter_text=f'userName eq "{login}"', start=1, count=100,
                                   sort_by="", descending=False, base="http://bench")  # fmt: skip
            timed.append((time.perf_counter() - started) * 1000)
            found += page.total
        figures = {
            "users": CustomerUser.objects.count(), "rounds": rounds, "found": found,
            "filter_p50_ms": round(statistics.median(timed), 3),
            "filter_p95_ms": round(statistics.quantiles(timed, n=20)[-1], 3),
        }  # fmt: skip
        self.stdout.write(json.dumps(figures))
        if out is not None:
            out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
