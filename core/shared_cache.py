"""The shared cache, for what the product can lose: while it is down, nothing fails because of it.

What lives in the shared cache can be computed again (permission answers, `CacheTTL` reads: from the
database and the sources, slower and correct) or is advice (which source failed recently: without it every
request asks every source, as before the failure was known). So every read of it answers "not there" and
every write is dropped while it cannot be reached, instead of a 503 for every request; what must be shared to
stay correct — login locks, request rates, sessions, generations — lives in the database, not here.

An outage is logged once a minute per process; `/health/` asks the cache itself and reports it as degraded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache

try:  # the client is installed with the app; without it no Redis cache can be configured anyway
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover
    RedisError = OSError

logger = logging.getLogger("helpdesk.shared_cache")

# What a cache that cannot be reached raises (a database cache's errors are the database's: a request
# fails with the database, whose outage is a 503 of its own).
UNREACHABLE = (RedisError, ConnectionError, TimeoutError)
LOG_EVERY = 60.0  # seconds between two log lines of one outage, per process

_state = threading.Lock()
_logged_at = float("-inf")  # when an outage was last logged (monotonic)


def get(key: str, default: Any = None) -> Any:
    try:
        return cache.get(key, default)
    except UNREACHABLE as exc:
        _failed("read", exc)
        return default


def get_many(keys: Iterable[str]) -> dict[str, Any]:
    try:
        return cache.get_many(list(keys))
    except UNREACHABLE as exc:
        _failed("read", exc)
        return {}


def set(key: str, value: Any, timeout: float | None) -> None:
    try:
        cache.set(key, value, timeout)
    except UNREACHABLE as exc:
        _failed("write", exc)


def add(key: str, value: Any, timeout: float | None) -> bool:
    """True when this call stored the key; False when it was there, or the cache cannot be reached."""
    try:
        return bool(cache.add(key, value, timeout))
    except UNREACHABLE as exc:
        _failed("write", exc)
        return False


def delete_many(keys: Iterable[str]) -> None:
    try:
        cache.delete_many(list(keys))
    except UNREACHABLE as exc:
        _failed("write", exc)


def _failed(what: str, exc: BaseException) -> None:
    global _logged_at
    now = time.monotonic()
    with _state:
        due = now - _logged_at >= LOG_EVERY
        if due:
            _logged_at = now
    if due:
        logger.error(
            "shared cache unreachable (%s: %s): answers are computed from the database until it is back",
            type(exc).__name__, exc,
        )  # fmt: skip
