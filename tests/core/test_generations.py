"""Generations renewed at the end of a transaction (core.generations.renewed_at_the_end): a writer holding
its transaction open no longer holds up another writer of the same source, its own reads never see a cached
answer its writes made stale, and everyone's answers are renewed when it commits."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import close_old_connections, connection, transaction

from core.generations import current, forget, forget_in_process, remember, renewed_at_the_end

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_a_writer_inside_renewed_at_the_end_holds_up_no_other_writer():
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    forget("source:X")  # the row exists
    inside, release = threading.Event(), threading.Event()

    def first():
        try:
            with transaction.atomic(), renewed_at_the_end():
                forget("source:X")
                inside.set()
                release.wait(10)
        finally:
            close_old_connections()

    holder = threading.Thread(target=first)
    holder.start()
    assert inside.wait(10)
    started = time.monotonic()
    other = threading.Thread(target=lambda: (forget("source:X"), close_old_connections()))
    other.start()
    other.join(5)
    waited = time.monotonic() - started
    release.set()
    holder.join(10)

    assert not other.is_alive()
    assert waited < 2  # before: it waited for the first writer's commit


def test_the_writers_own_reads_bypass_the_cache_and_everyone_is_renewed_at_commit():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    forget_in_process()
    assert remember(["source:Y"], "k", compute, 60) == 1
    assert remember(["source:Y"], "k", compute, 60) == 1  # cached
    before = current(["source:Y"])
    with transaction.atomic(), renewed_at_the_end():
        forget("source:Y")
        assert current(["source:Y"]) == before  # not renewed yet: no row lock taken
        assert remember(["source:Y"], "k", compute, 60) == 2  # the writer's own read: computed
    assert current(["source:Y"]) != before  # renewed with the commit
    assert remember(["source:Y"], "k", compute, 60) == 3
