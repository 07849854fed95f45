"""Cached answers that every worker and every app server forgets at once (R108, R11).

An answer (a permission matrix, the run-time settings, a source's read under `CacheTTL`) is cached under a
key that carries the current *generation* of what it was computed from. Generations are rows of the app's
database that every write changes inside the writer's own transaction: the writer sees the change at
once, every other process at commit, together with the data it wrote; and again after the commit, so an
answer the writer computed half-way through its own transaction is not believed either. A generation is
a random number, not a counter, so a rolled-back change is never reused by a later one. So no process
takes an answer computed before a write it can see, whatever cache holds the answers and however many
processes share it.

Answers live in the shared cache (`CACHES["default"]`: a table of the app's database by default, Redis in
larger deployments) and, under the same keys, in a small cache in each process: a repeated read costs one
primary-key look-up of the generations. Every key carries a fingerprint of the configuration too (the
sources, their Maps, `[Settings]`): a restart with a changed configuration computes new answers on every
worker and app server at once. Settings changed at run time in one process (tests' `override_settings`) are
part of that process's keys.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import hashlib
import itertools
import json
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.db import IntegrityError, connection, transaction
from django.dispatch import receiver

from core import shared_cache
from core.models import Generation

T = TypeVar("T")

PERMISSIONS = "permissions"
TABLE = Generation._meta.db_table

_MISSING = object()


class _RecentAnswers:
    """The answers this process used last, as objects (no pickling), bounded, each until its timeout."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._answers: collections.OrderedDict[str, tuple[float, Any]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, default: Any) -> Any:
        with self._lock:
            entry = self._answers.get(key)
            if entry is None:
                return default
            if entry[0] < time.monotonic():
                del self._answers[key]
                return default
            self._answers.move_to_end(key)
            return entry[1]

    def set(self, key: str, value: Any, timeout: float | None) -> None:
        expires = math.inf if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._answers[key] = (expires, value)
            self._answers.move_to_end(key)
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()


_in_process = _RecentAnswers(5000)
_pinned: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar(
    "helpdesk_generations", default=None
)
_settings_epoch = itertools.count(1)
_epoch = next(_settings_epoch)
CONFIGURATION = ("CUSTOMER_USER_BACKENDS", "HELPDESK_SETTINGS")  # the sources, their Maps and [Settings]


def _configuration_fingerprint() -> str:
    """A digest of the effective configuration: an answer computed under another one (before a restart
    with a changed file, on an app server not yet updated) is never taken, whichever cache holds it."""
    effective = {name: getattr(settings, name, None) for name in CONFIGURATION}
    encoded = json.dumps(effective, sort_keys=True, default=repr, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


_fingerprint = ""


def source_reads(alias: str) -> str:
    """The generation of everything source `alias` answered."""
    return f"source:{alias}"


def forget_permission_answers() -> None:
    """Every matrix and the run-time settings: any relation, setting or customer-user write (R108)."""
    forget(PERMISSIONS)


def forget_source_reads(*aliases: str) -> None:
    """Everything the sources `aliases` answered under `CacheTTL` (R11)."""
    forget(*map(source_reads, aliases))


def forget_customer_user_answers(*aliases: str) -> None:
    """What follows from customer users of `aliases`: their sources' reads and every permission answer."""
    forget(PERMISSIONS, *map(source_reads, aliases))


def current(names: Iterable[str]) -> tuple[int, ...]:
    """The generations of `names`, in that order, in one query (a name never written is 1)."""
    names = list(names)
    pinned = _pinned.get() or {}
    unknown = [name for name in names if name not in pinned]
    stored = {}
    if unknown:  # by hand: this runs on every cached read (a warm matrix 0.59 ms via the ORM, 0.23 ms so)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT name, value FROM {TABLE} WHERE name IN ({', '.join(['%s'] * len(unknown))})", unknown
            )
            stored = dict(cursor.fetchall())
    return tuple(pinned.get(name, stored.get(name, 1)) for name in names)


def pinned_context(names: Iterable[str]) -> contextvars.Context:
    """A copy of the current context that knows the generations of `names` as this thread sees them now.

    Work handed to another thread runs in it, so it answers for the caller's view of the data (a write
    in the caller's open transaction included) without reading the generations itself.
    """
    names = list(names)
    context = contextvars.copy_context()
    if names:
        context.run(_pinned.set, {**(_pinned.get() or {}), **dict(zip(names, current(names), strict=True))})
    return context


_deferred: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "deferred_generations", default=None
)


def forget(*names: str) -> None:
    """Make every answer computed from `names` stale: for the writer now, for everyone at commit (inside
    `renewed_at_the_end`, at the end of the writer's transaction instead: see there)."""
    deferred = _deferred.get()
    if deferred is not None and transaction.get_connection().in_atomic_block:
        deferred.update(names)
        return
    _renew(names)
    if transaction.get_connection().in_atomic_block:  # outside one, the first renewal is already committed
        transaction.on_commit(lambda: _renew(names))


@contextlib.contextmanager
def renewed_at_the_end() -> Iterator[None]:
    """Around the body of one transaction: the generations its writes make stale are renewed once, when
    the body ends (just before the commit), not at each write. A renewal locks the generation's row until
    the commit, so concurrent writers of one source queued on it for their whole transactions (SCIM: ~60
    creates/s however many workers). Until then the writer's own reads of those names bypass the caches;
    the renewal still commits with the data, and everyone else's answers are renewed again at commit."""
    token = _deferred.set(set())
    try:
        yield
        names = _deferred.get()
    finally:
        _deferred.reset(token)
    if names:
        forget(*names)


def _renew(names: Iterable[str]) -> None:
    """New generations; the rows are locked in one order, so two writers cannot deadlock on them."""
    for name in sorted(set(names)):
        value = secrets.randbits(62) + 2  # never the 1 of a name not written yet
        if Generation.objects.filter(name=name).update(value=value):
            continue
        try:
            with transaction.atomic():
                Generation.objects.create(name=name, value=value)
        except IntegrityError:  # created by a concurrent writer in the meantime
            Generation.objects.filter(name=name).update(value=value)


def remember(names: Iterable[str], key: str, compute: Callable[[], T], timeout: float | None) -> T:
    """The answer cached under `key` for the current generations of `names`, computed on a miss."""
    names = list(names)
    deferred = _deferred.get()
    if deferred and deferred.intersection(names):  # written in this transaction, renewed at its end
        return compute()
    generations = current(names)
    full_key = f"answer:{key}:{'.'.join(map(str, generations))}:{configuration()}:{_epoch}"
    value = _in_process.get(full_key, _MISSING)
    if value is _MISSING:
        value = shared_cache.get(full_key, _MISSING)  # a lost cache is a miss, never a failed request
        if value is _MISSING:
            # Answers it reads on the way are keyed by the same generations, with no second look-up.
            token = _pinned.set({**(_pinned.get() or {}), **dict(zip(names, generations, strict=True))})
            try:
                value = compute()
            finally:
                _pinned.reset(token)
            shared_cache.set(full_key, value, timeout)
        _in_process.set(full_key, value, timeout)
    return value


def forget_in_process() -> None:
    """Drop this process's copies (tests, whose rolled-back transactions reuse generation numbers)."""
    _in_process.clear()


def configuration() -> str:
    """The fingerprint of the configuration every cached answer was computed under (part of its key)."""
    global _fingerprint
    if not _fingerprint:
        _fingerprint = _configuration_fingerprint()
    return _fingerprint


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    """Sources and run-time setting seeds are part of every answer; a change in this process is new keys."""
    global _epoch, _fingerprint
    if setting in ("HELPDESK_SETTINGS", "CUSTOMER_USER_BACKENDS", "CACHES"):
        _epoch, _fingerprint = next(_settings_epoch), ""
