"""Ask several sources at once, each within its own time limit (R20–R24 read in parallel).

Sources that read the project's own database run in the calling thread, on the caller's connection and
transaction; every other source (a directory, an external database) runs in a worker thread, so one slow
source does not add its latency to the others. A source that fails or does not answer in time becomes a
SourceUnavailable in the answer, never an exception that hides the other sources' results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from backends.base import BaseSource
from backends.errors import SourceUnavailable
from backends.registry import SourceHandler

T = TypeVar("T")

_executor = ThreadPoolExecutor(max_workers=10, thread_name_prefix="customer-user-source")


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
) -> list[Answer[T]]:
    """`call(source)` for every alias, in parallel where that helps; answers in the order asked."""
    aliases = list(aliases)
    started = time.monotonic()
    futures: dict[str, Future] = {}
    for alias in aliases:
        if not registry[alias].runs_inline:
            futures[alias] = _executor.submit(_run, alias, lambda a=alias: call(registry[a]))
    answers = []
    for alias in aliases:
        if alias not in futures:
            answers.append(_run(alias, lambda a=alias: call(registry[a])))
            continue
        timeout = registry.configs[alias].timeout
        remaining = max(0.0, started + timeout - time.monotonic())
        try:
            answers.append(futures[alias].result(timeout=remaining))
        except FutureTimeout:
            futures[alias].cancel()
            error = SourceUnavailable(
                alias=alias, operation=operation, detail=f"no answer within {timeout:g} s"
            )
            answers.append(Answer(alias, error=error))
    return answers


def _run(alias: str, compute: Callable[[], Any]) -> Answer:
    try:
        return Answer(alias, value=compute())
    except SourceUnavailable as exc:
        return Answer(alias, error=exc)
