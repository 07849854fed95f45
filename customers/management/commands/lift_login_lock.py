"""Lift a login lock: a customer user's, a staff user's or a client address's (a history entry each)."""

from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from core import history
from customers.authentication import lift_login_locks
from customers.models import LoginFailure


class Command(BaseCommand):
    help = (
        "Lift the login locks of KEY (a login or a client address, compared case-blind) in every scope, "
        "or only in --scope (a source alias, `staff`, `staff address`, `second factor`); --list shows "
        "every lock that holds now."
    )

    def add_arguments(self, parser):
        parser.add_argument("key", nargs="?", help="the login or client address")
        parser.add_argument("--scope", help="only this scope (a source alias, staff, staff address, …)")
        parser.add_argument("--list", action="store_true", dest="show", help="list the locks that hold now")

    def handle(self, *args, key=None, scope=None, show=False, **options):
        if show:
            for failure in LoginFailure.objects.locked():
                self.stdout.write(
                    f"{failure.login}\t{failure.source}\tuntil {failure.locked_until.isoformat()}"
                )
            return
        if not key:
            raise CommandError("Name the login or client address whose lock to lift (or give --list).")
        found = LoginFailure.objects.filter(login=key.casefold())
        if scope:
            found = found.filter(source=scope)
        pairs = list(found.values_list("login", "source"))
        with history.acting(path="command", name=f"command:{getpass.getuser()}"):
            lifted = lift_login_locks(pairs)
        if not lifted:
            where = f" in {scope!r}" if scope else ""
            raise CommandError(f"No failed logins are counted for {key!r}{where}.")
        self.stdout.write(f"Lifted {lifted} lock(s) of {key!r}: " + ", ".join(s for _, s in pairs))
