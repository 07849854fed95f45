"""Sync a directory source into its local shadow: incremental by default, --full, --dry-run, --confirm."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from customers.sync import SyncNotConfigured, sync_source


class Command(BaseCommand):
    help = (
        "Sync the directory source ALIAS: what changed since the last run (or everything with --full, and "
        "whenever the shadow needs it). --dry-run shows the diff and writes nothing; a run that would "
        "invalidate more than the source's SyncGuardPercent is refused unless --confirm. Exit status 0 on "
        "success (or when another worker is running it), 1 when the guard refuses or the run fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("alias", help="the source, e.g. CustomerUser1")
        parser.add_argument("--full", action="store_true", help="read every entry, not only the changes")
        parser.add_argument("--dry-run", action="store_true", help="show the diff; write nothing")
        parser.add_argument("--confirm", action="store_true", help="apply a run the guard would refuse")

    def handle(self, *args, alias, full=False, dry_run=False, confirm=False, **options):
        bar = tqdm(desc=f"{alias}: entries read", unit=" entries", disable=options["verbosity"] < 1,
                   file=self.stderr._out)  # fmt: skip

        def progress(read: int) -> None:
            bar.update(read - bar.n)

        try:
            outcome = sync_source(alias, full=full, dry_run=dry_run, confirm=confirm, progress=progress)
        except SyncNotConfigured as exc:
            raise CommandError(exc.message) from exc
        finally:
            bar.close()
        if not outcome.ok:
            raise CommandError(outcome.message)
        self.stdout.write(outcome.message)
        run = outcome.run
        if run is not None and dry_run:
            for change in run.changes:
                self.stdout.write("  " + "\t".join(f"{k}={v}" for k, v in change.items()))
        if run is not None and run.errors:
            self.stdout.write(f"{len(run.errors)} entries refused:")
            for error in run.errors:
                self.stdout.write("  " + "\t".join(f"{k}={v}" for k, v in error.items()))
