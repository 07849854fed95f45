"""`manage.py scim_client NAME --source ALIAS --company CUSTOMERID [--company …]`: a SCIM client and its
token, printed once (stored only as a digest)."""

from django.core.management.base import BaseCommand, CommandError

from core import history
from core.errors import HelpdeskError
from provisioning.clients import create_scim_client


class Command(BaseCommand):
    help = "Create a SCIM client bound to a source and companies; print its bearer token once."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--source", required=True, help="the writable source its users live in")
        parser.add_argument(
            "--company", action="append", required=True, dest="companies",
            help="a customer ID it provisions (repeat; the first is where its users are made)",
        )  # fmt: skip
        parser.add_argument("--rate", default="", help="its rate limit, such as 1200/minute")

    def handle(self, *args, name, source, companies, rate, **options):
        try:
            with history.acting(path="command", name="command:scim_client"):
                client, token = create_scim_client(name=name, source=source, companies=companies, rate=rate)
        except HelpdeskError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(
            f"SCIM client {client.name}: source {client.source}, companies {', '.join(client.companies)}. "
            "The token is shown this once; give it to the identity provider as its bearer token:"
        )
        self.stdout.write(token)
