"""Database connections that belong to a source, not to the project: an external customer-user database
given by DSN, or a directory written through django-ldapdb.

They are registered for the current thread only (Django keeps connections per thread) and never in
`settings.DATABASES`, so Django's test runner creates no test database for them and never flushes them,
and `connections.all()` does not hand them to request cleanup: the source owns their life.
"""

from __future__ import annotations

import threading
from typing import Any

import dj_database_url
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import load_backend

_registered = threading.local()

# Perl DBI drivers (the reference's `Params.DSN`) and the Django backends that speak to the same databases.
DBI_DRIVERS = {
    "pg": ("django.db.backends.postgresql", ("dbname", "db", "database"), 5432),
    "mysql": ("django.db.backends.mysql", ("database", "db", "dbname"), 3306),
    "mariadb": ("django.db.backends.mysql", ("database", "db", "dbname"), 3306),
    "sqlite": ("django.db.backends.sqlite3", ("dbname", "db", "database"), None),
}
DBI_OPTIONS = {"pg": ("sslmode", "application_name"), "mysql": (), "mariadb": (), "sqlite": ()}


class UnsupportedDSN(ValueError):
    """A DSN that names no database this product can reach; the message says what to give instead."""


def database_settings(dsn: str) -> dict[str, Any]:
    """Django's settings for one database from a URL (`postgres://…`, `mysql://…`) or a Perl DBI DSN as the
    reference writes it (`DBI:Pg:dbname=…;host=…;port=…`, `DBI:mysql:database=…;host=…`)."""
    if not dsn.lower().startswith("dbi:"):
        return dj_database_url.parse(dsn)
    parts = dsn.split(":", 2)
    driver = parts[1].lower() if len(parts) > 1 else ""
    rest = parts[2] if len(parts) > 2 else ""
    if driver == "odbc":
        raise UnsupportedDSN(
            "DBI:odbc names an ODBC data source, which Django cannot open; give the database's own URL "
            "instead (mssql://user:password@host:1433/name with the mssql-django package installed, "
            "postgres://…, mysql://…)"
        )
    if driver not in DBI_DRIVERS:
        raise UnsupportedDSN(f"DBI driver {driver!r} is not supported; use Pg, mysql, MariaDB or SQLite")
    engine, name_keys, port = DBI_DRIVERS[driver]
    pairs: dict[str, str] = {}
    items = [item.strip() for item in rest.split(";") if item.strip()]
    if len(items) == 1 and "=" not in items[0]:
        items = [f"{name_keys[0]}={items[0]}"]  # `DBI:mysql:customerdb`: the database's name alone
    for item in items:
        key, equals, value = item.partition("=")
        if not equals:
            raise UnsupportedDSN(f"{item!r} is not a key=value pair")
        pairs[key.strip().lower()] = value.strip()
    name = next((pairs.pop(k) for k in name_keys if k in pairs), "")
    if not name:
        raise UnsupportedDSN(f"names no database (give {name_keys[0]}=…)")
    settings_dict: dict[str, Any] = {
        "ENGINE": engine,
        "NAME": name,
        "HOST": pairs.pop("host", "" if driver == "sqlite" else "localhost"),
        "PORT": pairs.pop("port", port or ""),
        "USER": "",
        "PASSWORD": "",
        "OPTIONS": {k: pairs.pop(k) for k in DBI_OPTIONS[driver] if k in pairs},
    }
    if pairs:
        known = ", ".join((*name_keys, "host", "port", *DBI_OPTIONS[driver]))
        raise UnsupportedDSN(f"unknown DSN key {', '.join(map(repr, pairs))} (known: {known})")
    if driver in ("mysql", "mariadb"):
        settings_dict["OPTIONS"]["charset"] = "utf8mb4"
    return settings_dict


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
