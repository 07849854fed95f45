import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from tqdm import tqdm

from customers.imports import memory_mb
from customers.znuny import import_from_reference, rows_to_read


class Command(BaseCommand):
    help = "Copy customers, customer users (with their password hashes), preferences and relations from an " \
           "OTRS, Znuny or OTOBO database, idempotently and all or nothing (one transaction)."  # fmt: skip

    def add_arguments(self, parser):
        parser.add_argument("--dsn", required=True, help="e.g. postgres://otrs:secret@db.example:5432/otrs")
        parser.add_argument("--dry-run", action="store_true", help="read and check everything, write nothing")

    def handle(self, *args, dsn, dry_run, **options):
        started = time.perf_counter()
        try:
            total = rows_to_read(dsn)
            with tqdm(total=total, unit=" rows", unit_scale=True, disable=options["verbosity"] == 0) as bar:
                result = import_from_reference(dsn, dry_run=dry_run, progress=bar)
        except (ValueError, DatabaseError) as exc:
            raise CommandError(f"Nothing was imported: {exc}".strip()) from exc
        prefix = "would copy" if dry_run else "copied"
        for what, count in result.counts.items():
            self.stdout.write(f"{prefix}: {count} {what}")
        for item in result.skipped:
            self.stderr.write(f"skipped {item}")
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"{total} rows read in {elapsed:.1f} s ({total / elapsed if elapsed else 0:,.0f} rows/s),"
            f" peak memory {memory_mb():.0f} MB"
        )
