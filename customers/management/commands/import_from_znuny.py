from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from customers.znuny import import_from_reference


class Command(BaseCommand):
    help = "Copy customers, customer users (with their password hashes), preferences and relations from an " \
           "OTRS, Znuny or OTOBO database, idempotently."  # fmt: skip

    def add_arguments(self, parser):
        parser.add_argument("--dsn", required=True, help="e.g. postgres://otrs:secret@db.example:5432/otrs")
        parser.add_argument("--dry-run", action="store_true", help="read and check everything, write nothing")

    def handle(self, *args, dsn, dry_run, **options):
        try:
            result = import_from_reference(dsn, dry_run=dry_run)
        except (ValueError, DatabaseError) as exc:
            raise CommandError(f"Nothing was imported: {exc}".strip()) from exc
        prefix = "would copy" if dry_run else "copied"
        for what, count in result.counts.items():
            self.stdout.write(f"{prefix}: {count} {what}")
        for item in result.skipped[:20]:
            self.stderr.write(f"skipped {item}")
