from django.core.management.base import BaseCommand

from customers.imports import CustomerImporter
from customers.management.commands._import import add_import_arguments, run_import


class Command(BaseCommand):
    help = "Import customers from CSV or JSON lines (CustomerID, CustomerCompanyName, …, ValidID)."

    def add_arguments(self, parser):
        add_import_arguments(parser)

    def handle(self, *args, **options):
        run_import(self, CustomerImporter, options)
