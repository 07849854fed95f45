from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.history import purge_history


class Command(BaseCommand):
    help = "Remove history entries older than a number of days (default: HISTORY_RETENTION_DAYS)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, metavar="DAYS", default=None)

    def handle(self, *args, older_than, **options):
        days = settings.HISTORY_RETENTION_DAYS if older_than is None else older_than
        if not days or days < 1:
            raise CommandError(
                "Give --older-than DAYS (at least 1), or set HELPDESK_HISTORY_RETENTION_DAYS: "
                "without either the history is kept for ever."
            )
        removed = purge_history(older_than_days=days)
        self.stdout.write(f"Removed {removed} history entries older than {days} days.")
