"""Ask several sources at once, each within its own time limit (R20–R24 read in parallel).

Sources that read the project's own database run in the calling thread, on the caller's connection and
transaction; every other source (a directory, an external database) runs in a worker thread, so one slow
source does not add its latency to the others. A source that fails or does not answer in time becomes a
SourceUnavailable in the answer, never an exception that hides the other sources' results.

A source that failed or timed out is *skipped* for its `RetryAfter` seconds, by every process (the state
is kept in the shared cache): requests that need it answer at once with its warning instead of waiting
its `Timeout` again, and requests that do not need it run at full speed. When the time is up, one request
retries it (the probe); the others keep skipping it until the probe has answered.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections
from django.utils.translation import gettext as _

from backends.base import BaseSource
from backends.connections import close_source_connections
from backends.errors import SourceUnavailable
from backends.registry import SourceHandler
from core import shared_cache
from core.generations import pinned_context, source_reads

T = TypeVar("T")

logger = logging.getLogger(__name__)

POOL_SIZE = 10  # worker threads per process, each with at most one connection per source
POOL_IDLE_SECONDS = 60  # a worker idle this long closes its connections and ends


@dataclass(frozen=True)
class Answer(Generic[T]):
    alias: str
    value: T | None = None
    error: SourceUnavailable | None = None


def ask_sources(
    registry: SourceHandler,
    aliases: Iterable[str],
    operation: str,
    call: Callable[[BaseSource], T],
) -> Iterator[Answer[T]]:
    """`call(source)` for every alias, in parallel where that helps; answers in the order asked.

    Answers are yielded as they are due, so a caller that stops at the first hit (R21) never waits for a
    later source.
    """
    aliases = list(aliases)
    started = time.monotonic()
    threaded = [alias for alias in aliases if not registry[alias].runs_inline]
    skipped, probing = _breaker.skipped(registry, threaded)
    cached = [source_reads(a) for a in threaded if a not in skipped and registry.configs[a].cache_ttl > 0]
    context = pinned_context(cached)
    futures: dict[str, Future] = {}
    for alias in threaded:
        if alias not in skipped:
            task = context.copy()
            futures[alias] = _pool.submit(lambda a=alias, t=task: t.run(_run, a, lambda: call(registry[a])))
    for alias in aliases:
        if alias in skipped:
            error = SourceUnavailable(
                alias=alias, operation=operation, detail=skipped[alias], state="skipped"
            )
            yield Answer(alias, error=error)
        elif alias not in futures:
            yield _run(alias, lambda a=alias: call(registry[a]))
        else:
            answer = _wait(registry, alias, futures[alias], started, operation)
            yield _breaker.record(registry, answer, probing=alias in probing)


def _wait(registry: SourceHandler, alias: str, future: Future, started: float, operation: str) -> Answer:
    timeout = registry.configs[alias].timeout
    try:
        return future.result(timeout=max(0.0, started + timeout - time.monotonic()))
    except FutureTimeout:
        future.cancel()
        detail = _("no answer within %(seconds)s s") % {"seconds": f"{timeout:g}"}
        error = SourceUnavailable(alias=alias, operation=operation, detail=detail, state="timeout")
        return Answer(alias, error=error)


def _run(alias: str, compute: Callable[[], Any]) -> Answer:
    try:
        return Answer(alias, value=compute())
    except SourceUnavailable as exc:
        return Answer(alias, error=exc)


class _Breaker:
    """Which sources failed recently, shared by every process through the cache."""

    @staticmethod
    def _key(registry: SourceHandler, alias: str) -> str:
        return f"source-breaker:{alias}:{registry.configs[alias].fingerprint}"

    def skipped(self, registry: SourceHandler, aliases: list[str]) -> tuple[dict[str, str], set[str]]:
        """`{alias: why}` of the sources to skip now, and the ones this request probes (their time is up)."""
        if not aliases:
            return {}, set()
        keys = {self._key(registry, alias): alias for alias in aliases}
        skipped, probing = {}, set()
        now = time.time()
        for key, state in shared_cache.get_many(keys).items():
            alias = keys[key]
            if now >= state["until"] and shared_cache.add(
                f"{key}:probe", 1, registry.configs[alias].timeout + 1
            ):
                probing.add(alias)
            else:
                retry = time.strftime("%H:%M:%S", time.localtime(state["until"]))
                skipped[alias] = _("skipped since it failed (%(detail)s); retried after %(time)s") % {
                    "detail": state["detail"],
                    "time": retry,
                }
        return skipped, probing

    def record(self, registry: SourceHandler, answer: Answer, *, probing: bool) -> Answer:
        key = self._key(registry, answer.alias)
        if answer.error is None:
            if probing:
                shared_cache.delete_many([key, f"{key}:probe"])
                logger.info("source %s answers again", answer.alias)
            return answer
        retry_after = registry.configs[answer.alias].retry_after
        detail = str(answer.error.fields.get("detail") or answer.error.message)
        shared_cache.set(key, {"until": time.time() + retry_after, "detail": detail}, retry_after * 20)
        shared_cache.delete_many([f"{key}:probe"])
        logger.warning("source %s failed (%s); skipped for %g s", answer.alias, detail, retry_after)
        return answer


class _SourcePool:
    """Worker threads for the sources outside the app's database.

    A worker that has been idle for POOL_IDLE_SECONDS closes its connections (external databases, the
    app's database for the shared cache) and ends, so an idle process holds none; a busy one holds at
    most POOL_SIZE per database.
    """

    def __init__(self, size: int, idle_seconds: float) -> None:
        self._size, self._idle_seconds = size, idle_seconds
        self._tasks: collections.deque[tuple[Future, Callable[[], Any]]] = collections.deque()
        self._wakeup = threading.Condition()
        self._workers = 0
        self._waiting = 0

    def submit(self, compute: Callable[[], Any]) -> Future:
        future: Future = Future()
        with self._wakeup:
            self._tasks.append((future, compute))
            if self._waiting:
                self._wakeup.notify()
            elif self._workers < self._size:
                self._workers += 1
                threading.Thread(target=self._work, name="customer-user-source", daemon=True).start()
        return future

    def _work(self) -> None:
        try:
            while (task := self._next()) is not None:
                future, compute = task
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(compute())
                    except BaseException as exc:  # handed to the caller, like concurrent.futures
                        future.set_exception(exc)
        finally:
            connections.close_all()
            close_source_connections()

    def _next(self) -> tuple[Future, Callable[[], Any]] | None:
        with self._wakeup:
            while not self._tasks:
                self._waiting += 1
                woken = self._wakeup.wait(self._idle_seconds)
                self._waiting -= 1
                if not woken and not self._tasks:
                    self._workers -= 1
                    return None
            return self._tasks.popleft()


_breaker = _Breaker()
_pool = _SourcePool(POOL_SIZE, POOL_IDLE_SECONDS)
