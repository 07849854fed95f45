from django.core.management.base import BaseCommand, CommandError

from backends.registry import sources
from customers.imports import CustomerUserImporter
from customers.management.commands._import import add_import_arguments, run_import


class Command(BaseCommand):
    help = "Import customer users into our own table from CSV or JSON lines, columns named by the Map."

    def add_arguments(self, parser):
        add_import_arguments(parser)
        parser.add_argument("--source", default="CustomerUser", help="the DB source over our own table")

    def handle(self, *args, **options):
        alias = options["source"]
        if alias not in sources or not sources[alias].reads_own_table:
            configured = ", ".join(sources.aliases)
            raise CommandError(
                f"--source {alias}: not a DB source over our own table; configured: {configured}"
            )
        run_import(self, CustomerUserImporter, options, config=sources.configs[alias])
