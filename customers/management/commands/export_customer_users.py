"""Stream the customer users of one source (or all) as CSV or JSON lines, with the Map's attributes."""

import contextlib
import csv
import json
import sys

from django.core.management.base import BaseCommand, CommandError

from backends.registry import sources


class Command(BaseCommand):
    help = "Export customer users of a source as CSV or JSON lines (the Map's attribute names)."

    def add_arguments(self, parser):
        parser.add_argument("--source", help="one source alias (default: every source, in order)")
        parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
        parser.add_argument("--output", "-o", help="a file (default: standard output)")
        parser.add_argument("--all", action="store_true", help="invalid customer users too")

    def handle(self, *args, source, format, output, all, **options):
        aliases = [source] if source else sources.aliases
        unknown = [a for a in aliases if a not in sources]
        if unknown:
            raise CommandError(
                f"--source {unknown[0]}: not configured; configured: {', '.join(sources.aliases)}"
            )
        with contextlib.ExitStack() as stack:
            handle = (
                stack.enter_context(open(output, "w", encoding="utf-8", newline="")) if output else sys.stdout
            )
            count = 0
            for alias in aliases:
                backend = sources[alias]
                attributes = ["Source", *[r.attribute for r in backend.config.map_rows if not r.is_password]]
                writer = csv.DictWriter(handle, fieldnames=attributes, extrasaction="ignore")
                if format == "csv":
                    writer.writeheader()
                for record in backend.iter_records(valid_only=not all):
                    row = {"Source": alias, **{a: record.get(a, "") for a in attributes[1:]}}
                    if format == "csv":
                        writer.writerow(row)
                    else:
                        handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                    count += 1
            self.stderr.write(f"{count} customer users exported")
