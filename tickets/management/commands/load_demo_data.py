from django.core.management.base import BaseCommand

from customers.demo import DEMO_PASSWORD, load_demo_data
from customers.models import CustomerUser
from tickets.demo import load_demo_tickets


class Command(BaseCommand):
    help = "Load the demo customers, customer users, groups, services, queues and tickets (idempotent)."

    def handle(self, *args, **options):
        created = load_demo_data()
        created["tickets"] = load_demo_tickets()
        if any(created.values()):
            summary = ", ".join(f"{count} {kind}" for kind, count in created.items())
            self.stdout.write(f"Demo data loaded: {summary}. Customer users' password: {DEMO_PASSWORD}")
        else:
            self.stdout.write("Demo data already present.")
        first = CustomerUser.objects.filter(validity=1).order_by("pk").values_list("login", flat=True).first()
        if first:
            self.stdout.write(f"Customer panel: http://127.0.0.1:8000/ — log in as {first} / {DEMO_PASSWORD}")
