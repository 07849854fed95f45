"""Parallel bursts with real threads, started together: what the concurrency tests share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import connections

T = TypeVar("T")


def in_parallel(count: int, work: Callable[[int], T]) -> list[T]:
    """`work(0)` … `work(count - 1)`, each in its own thread, released at once by a barrier; their answers in
    order. Each thread closes its database connections when it is done."""
    start = threading.Barrier(count)

    def one(n: int) -> T:
        try:
            start.wait()
            return work(n)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))
