"""Request rates that hold under concurrency: counted in the database, one atomic statement per request.

A rate is `limit` requests per `seconds` for one key (a client address, a staff user) in one scope (the API,
the panel's login, sign-up). The window of a key begins at its first request and lasts `seconds`; the
count and the window are kept in one row, updated by one `INSERT … ON CONFLICT DO UPDATE … RETURNING`, so
parallel requests on every worker and app server are counted exactly and never more than `limit` pass.
The database, not the cache: DatabaseCache's increment is a read and a write (django-ratelimit refuses it
for that reason), and a rate must keep counting while a shared cache is lost. Count a rate before the
request's own transaction begins (the API does) so the row is never locked for a whole request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from core.errors import TooManyRequests
from core.models import RateCount

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}  # DRF's units: 30/minute, 30/min, 30/m


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int

    @classmethod
    def parse(cls, text: str | None) -> Rate | None:
        """`30/minute`, `5/h`, `100/second`, `10/day` (DRF's form); empty: no limit."""
        if not text:
            return None
        number, _, period = str(text).partition("/")
        try:
            return cls(int(number), PERIODS[period.strip()[:1].lower()])
        except (ValueError, KeyError):
            raise ImproperlyConfigured(
                f"{text!r} is not a rate: write it as 30/minute (s, m, h or d)"
            ) from None


_COUNT = """
INSERT INTO {table} (scope, "key", started, count) VALUES (%s, %s, %s, 1)
ON CONFLICT (scope, "key") DO UPDATE SET
    count = CASE WHEN {table}.started <= %s THEN 1 ELSE {table}.count + 1 END,
    started = CASE WHEN {table}.started <= %s THEN %s ELSE {table}.started END
RETURNING count, started
"""


def hit(scope: str, key: str, rate: Rate) -> float | None:
    """Count one request of `key`; None while it is within `rate`, else the seconds until its window ends."""
    now = time.time()
    expired = now - rate.seconds
    table = connection.ops.quote_name(RateCount._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_COUNT.format(table=table), [scope, key[:191], now, expired, expired, now])
        count, started = cursor.fetchone()
    if count == 1:  # a new window of this key: the scope's windows that ended a while ago go
        RateCount.objects.filter(scope=scope, started__lt=now - 2 * rate.seconds).delete()
    if count <= rate.limit:
        return None
    # The window may have begun on a parallel request's clock, a moment after this one's: at most a window.
    return min(max(started + rate.seconds - now, 0.001), float(rate.seconds))


def limit(scope: str, address: str) -> None:
    """Count a request of the panel from `address` against the rate `PANEL_RATES[scope]` (the settings'
    HELPDESK_PANEL_*_RATE); raise TooManyRequests when it is over. No address (a command): not counted."""
    rate = Rate.parse(settings.PANEL_RATES.get(scope))
    if rate is not None and address and (wait := hit(f"panel {scope}", address, rate)) is not None:
        raise TooManyRequests(wait)
