"""Database connections that belong to a source, not to the project: an external customer-user database
given by DSN, or a directory written through django-ldapdb.

They are registered for the current thread only (Django keeps connections per thread) and never in
`settings.DATABASES`, so Django's test runner creates no test database for them and never flushes them,
and `connections.all()` does not hand them to request cleanup: the source owns their life.
"""

from __future__ import annotations

import threading
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import load_backend

_registered = threading.local()


def source_connection(alias: str, settings_dict: dict[str, Any]) -> str:
    """Make `alias` usable with `.using(alias)` in this thread; return the alias."""
    if getattr(connections._connections, alias, None) is None:
        if not hasattr(_registered, "aliases"):
            _registered.aliases = set()
        _registered.aliases.add(alias)
        configured = connections.configure_settings({DEFAULT_DB_ALIAS: dict(settings_dict)})[DEFAULT_DB_ALIAS]
        wrapper: BaseDatabaseWrapper = load_backend(configured["ENGINE"]).DatabaseWrapper(configured, alias)
        setattr(connections._connections, alias, wrapper)
    return alias


def forget_source_connection(alias: str) -> None:
    """Close and drop this thread's connection for `alias` (the next use opens a new one)."""
    wrapper = getattr(connections._connections, alias, None)
    if wrapper is not None:
        try:
            wrapper.close()
        finally:
            delattr(connections._connections, alias)


def close_source_connections() -> None:
    """Close every source connection of this thread (a worker thread that ends)."""
    for alias in list(getattr(_registered, "aliases", ())):
        forget_source_connection(alias)
        _registered.aliases.discard(alias)
