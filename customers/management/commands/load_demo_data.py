from django.core.management.base import BaseCommand

from customers.demo import DEMO_PASSWORD, load_demo_data


class Command(BaseCommand):
    help = "Load the demo customers, customer users, groups and services (idempotent)."

    def handle(self, *args, **options):
        created = load_demo_data()
        if any(created.values()):
            summary = ", ".join(f"{count} {kind}" for kind, count in created.items())
            self.stdout.write(f"Demo data loaded: {summary}. Customer users' password: {DEMO_PASSWORD}")
        else:
            self.stdout.write("Demo data already present.")
