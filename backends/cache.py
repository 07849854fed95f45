"""`CacheTTL`: a source's reads cached in Django's cache framework, forgotten on every write (R11).

The registry wraps a source whose CacheTTL is above 0 in a CachingSource. Keys carry the source's alias,
a fingerprint of its configuration and the source's generation (core.generations); a write through the
app renews the generation, so everything that source answered before is stale at once in every process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from backends.base import BaseSource, CustomerUserRecord, SearchQuery, SourceResult
from core.generations import forget_source_reads, remember, source_reads

FORMAT = 2  # of the pickled answers: bumped when CustomerUserRecord or SourceResult change shape, so workers
# of the previous release and of this one never read each other's entries during a rolling deploy


class CachingSource:
    """A source whose reads are cached for CacheTTL seconds; everything else passes through."""

    def __init__(self, source: BaseSource) -> None:
        self._source = source

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def _cached(self, operation: str, arguments: tuple, compute: Callable[[], Any]) -> Any:
        digest = hashlib.sha256(repr(arguments).encode()).hexdigest()[:32]
        config = self._source.config
        key = f"customer-user-source:{FORMAT}:{config.alias}:{config.fingerprint}:{operation}:{digest}"
        return remember([source_reads(config.alias)], key, compute, config.cache_ttl)

    def search(self, query: SearchQuery) -> SourceResult:
        return self._cached("search", (query,), lambda: self._source.search(query))

    def get(self, login: str) -> CustomerUserRecord | None:
        folded = login if getattr(self._source, "logins_case_sensitive", False) else login.casefold()
        return self._cached("get", (folded,), lambda: self._source.get(login))

    def list_customer_id_values(self, term: str | None, *, valid_only: bool = True) -> list[str]:
        def compute() -> list[str]:
            return self._source.list_customer_id_values(term, valid_only=valid_only)

        return self._cached("customer_ids", (term, valid_only), compute)

    def add(
        self, attributes: Mapping[str, Any], *, acting_user: Any, password: str = ""
    ) -> CustomerUserRecord:
        try:
            return self._source.add(attributes, acting_user=acting_user, password=password)
        finally:
            forget_source_reads(self._source.alias)

    def update(self, login: str, attributes: Mapping[str, Any], *, acting_user: Any) -> CustomerUserRecord:
        try:
            return self._source.update(login, attributes, acting_user=acting_user)
        finally:
            forget_source_reads(self._source.alias)

    def set_password(self, login: str, password: str) -> None:
        try:
            self._source.set_password(login, password)
        finally:
            forget_source_reads(self._source.alias)
