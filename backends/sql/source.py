"""The `DB` source: customer users in a SQL table, read and written through the Map (R40–R64).

The table is our own `customer_user` (the customers app's CustomerUser model). Map storage names are
column names; a storage name without a column lives in the row's `extra_attributes`, so an admin can add
a field to the Map without a migration. Searches are built so that PostgreSQL can answer them from the
indexes the migrations create: `lower(column)` btree indexes for exact matches, and for wildcard matches
the generated `search_key` column with its trigram GIN index (W1): a wildcard term over the key's fields
is first narrowed by one `search_key LIKE …`, then checked field by field.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.db import DatabaseError, connections, models, transaction
from django.db.models import Q
from django.db.models.functions import Lower

from backends.base import BaseSource, CustomerUserRecord, SearchQuery, SourceStatus
from backends.config import LIST_KEYS, ConfigProblem, SourceConfig
from backends.errors import SourceUnavailable
from backends.search import UnparsableSearch, parse_search
from backends.sql.common import INT_RE, NUL, TALLY_FOLD, case_sensitive, truthy_value
from backends.sql.external import (
    external_config_problems,
    external_database_alias,
    external_model,
    is_external,
)
from backends.sql.records import RecordReads
from backends.sql.search import Searches
from backends.sql.writes import Writes


def own_table() -> type[models.Model]:
    """The product's own customer-user model, named by the CUSTOMER_USER_MODEL setting the way Django names
    its user model, so that the sources need not import the app that defines it."""
    return django_apps.get_model(settings.CUSTOMER_USER_MODEL)


class DBSource(Searches, Writes, RecordReads, BaseSource):
    """Our own `customer_user` table, or a table in another database (`Params.DSN` or `Params.Database`).

    An external table is read and written through an unmanaged model built from the Map in its own app
    registry, so no migration ever touches it; its columns and their sizes come from the database itself.
    """

    kind = "DB"

    def __init__(self, config: SourceConfig) -> None:
        super().__init__(config)
        self.case_sensitive = case_sensitive(config.params)  # searches (R11)
        login_row = config.row("UserLogin")
        # R12: a login column the Map types `int` holds numbers; it is compared as a number, never lower()ed.
        self.integer_logins = login_row is not None and login_row.storage_type == "int"
        sensitive = truthy_value(config.params.get("CaseSensitive", 0))  # look-ups by login (R55)
        self.logins_case_sensitive = self.integer_logins or sensitive
        self.external = is_external(config.params)
        self.reads_own_table = not self.external
        self._key_columns: frozenset[str] = frozenset()  # the search key's fields; our own table only
        self._folded_key = ""  # the folded search key's column (PostgreSQL), our own table only
        self._prefix_columns: frozenset[str] = frozenset()  # columns with a `lower(…) COLLATE "C"` index
        if self.external:
            self.using = external_database_alias(config)
            self.model = external_model(config)
        else:
            self.model = own_table()
            self.using = "default"
            self._key_separator = self.model.search_key_separator
            self._folded_key = self.model.folded_search_key_column
            self._key_columns = frozenset(
                self.model._meta.get_field(f).column for f in self.model.search_key_fields
            )
            self._prefix_columns = frozenset(
                self.model._meta.get_field(f).column for f in self.model.prefix_indexed_fields
            )
        self._fields = {f.column: f for f in self.model._meta.concrete_fields}
        self._columns_checked = not self.external

    @property
    def runs_inline(self) -> bool:
        return self.using == "default"

    @classmethod
    def config_problems(cls, raw: Mapping[str, Any]) -> list[ConfigProblem]:
        params = raw.get("Params") or {}
        if is_external(params):
            return external_config_problems(raw)
        CustomerUser = own_table()
        problems = []
        table = params.get("Table", CustomerUser._meta.db_table)
        if table != CustomerUser._meta.db_table:
            problems.append(
                ConfigProblem(
                    "['Params']['Table']",
                    f"{table!r} is not a table this source can read",
                    hint=f"Use {CustomerUser._meta.db_table!r}, the customers app's table, or name the "
                    "database holding it with Params.DSN or Params.Database.",
                    check_id="backends.E030",
                )
            )
        columns = {f.column for f in CustomerUser._meta.concrete_fields}
        readable = columns - {"pw", "extra_attributes", "search_key"}
        storages = {str(row[2]) for row in raw["Map"]}
        for key in LIST_KEYS:
            for name in raw.get(key) or ():
                if name not in storages and name not in readable:
                    problems.append(
                        ConfigProblem(
                            f"[{key!r}]",
                            f"{name!r} is neither a storage name of the Map nor a column of "
                            f"{CustomerUser._meta.db_table}",
                            hint=f"Use one of: {', '.join(sorted(storages | readable))}.",
                            check_id="backends.E025",
                        )
                    )
        for key in ("CustomerKey", "CustomerID", "CustomerValid"):
            name = raw.get(key) or (raw.get("Key") if key == "CustomerKey" else None)
            if isinstance(name, str) and name and name not in columns:
                problems.append(
                    ConfigProblem(
                        f"[{key!r}]",
                        f"{name!r} is not a column of {CustomerUser._meta.db_table}",
                        hint=f"Use one of: {', '.join(sorted(columns - {'extra_attributes'}))}.",
                        check_id="backends.E031",
                    )
                )
        return problems

    def _check_columns(self) -> None:
        """An external table must have every column the Map names; its sizes bound what is written."""
        if self._columns_checked:
            return
        table = self.model._meta.db_table
        connection = connections[self.using]
        try:
            with connection.cursor() as cursor:
                description = {
                    c.name: c for c in connection.introspection.get_table_description(cursor, table)
                }
        except DatabaseError as exc:
            raise SourceUnavailable(alias=self.alias, operation="connect", detail=str(exc).strip()) from exc
        missing = ", ".join(repr(column) for column in self._fields if column not in description)
        if missing:
            detail = f"table {table!r} has no column {missing}"
            raise SourceUnavailable(alias=self.alias, operation="connect", detail=detail)
        key = self.config.customer_key
        key_type = connection.introspection.get_field_type(description[key].type_code, description[key])
        if key_type not in ("CharField", "TextField") and not (self.integer_logins and "Integer" in key_type):
            # Every read compares lower(login); on a number column that is an error on every request.
            detail = (
                f"the login column {key!r} of table {table!r} holds {key_type}, not text"
                " (a number column is typed `int` in the Map's UserLogin row)"
            )
            raise SourceUnavailable(alias=self.alias, operation="connect", detail=detail)
        for column, field in self._fields.items():
            size = description[column].internal_size
            if isinstance(field, models.CharField) and size and size > 0:
                field.max_length = size
        self._columns_checked = True

    def get(self, login: str) -> CustomerUserRecord | None:
        """R55: case-insensitive lookup by login, invalid users included."""
        if not login or NUL in login or (self.integer_logins and not INT_RE.match(login)):
            return None  # a number column holds no other login: not found, never an error
        sensitive = self.logins_case_sensitive
        rows = self._select_rows(
            "get", self._exact(self.config.customer_key, sensitive), [self._fold(login, sensitive)], 1
        )
        return rows[0] if rows else None

    def get_many(self, logins: Iterable[str]) -> dict[str, CustomerUserRecord]:
        """One query for many logins (chunked), compared like get()."""
        logins = list(dict.fromkeys(login for login in logins if login and NUL not in login))
        if self.integer_logins:
            logins = [int(login) for login in logins if INT_RE.match(login)]
        found: dict[str, CustomerUserRecord] = {}
        key = self._expr(self.config.customer_key)
        for start in range(0, len(logins), 500):
            chunk = logins[start : start + 500]
            if self.logins_case_sensitive:
                condition = Q(models.lookups.In(key, chunk))
            else:
                condition = Q(models.lookups.In(Lower(key), [login.lower() for login in chunk]))
            rows = self._fetch(self._base_queryset(False).filter(condition), "get")
            for row in rows:
                record = self._record(row)
                found[record.login.casefold()] = record
        return found

    def list_customer_id_values(self, term: str | None, *, valid_only: bool = True) -> list[str]:
        """R62: distinct primary customer IDs, optionally matching a term (R43 grammar)."""
        qs = self._base_queryset(valid_only)
        if term and NUL in term:
            return []
        if term:
            try:
                qs = qs.filter(self._expression_q(parse_search(term), (self.config.customer_id,)))
            except UnparsableSearch:
                return []
        values = qs.values_list(self._field_name(self.config.customer_id), flat=True).distinct()
        return sorted(set(self._fetch(values, "customer_id_list")), key=str.casefold)

    def iter_records(self, *, valid_only: bool = True) -> Iterator[CustomerUserRecord]:
        rows = self._base_queryset(valid_only).order_by(self._key_order())
        try:
            self._check_columns()
            for row in rows.iterator(chunk_size=2000):
                yield self._record(row)
        except DatabaseError as exc:
            raise SourceUnavailable(alias=self.alias, operation="list", detail=str(exc).strip()) from exc

    def iter_logins(self) -> Iterator[str]:
        logins = self._base_queryset(False).values_list(self._field_name(self.config.customer_key), flat=True)
        try:
            self._check_columns()
            yield from logins.iterator(chunk_size=5000)
        except DatabaseError as exc:
            raise SourceUnavailable(alias=self.alias, operation="list", detail=str(exc).strip()) from exc

    def count(self, *, valid_only: bool = False) -> int:
        """Exact: the sources page and the API show it as the source's size, never an estimate."""
        try:
            self._check_columns()
            if self._tallied(valid_only):
                return self._tally(valid_only)
            return self._base_queryset(valid_only).count()
        except DatabaseError as exc:
            raise SourceUnavailable(alias=self.alias, operation="count", detail=str(exc).strip()) from exc

    def _tallied(self, valid_only: bool) -> bool:
        """Whether the triggers' tally answers: our own table on PostgreSQL, validity in `valid_id`."""
        if self.external or connections[self.using].vendor != "postgresql":
            return False
        valid = self.config.customer_valid
        return (
            not valid_only
            or not valid
            or (self._is_column(valid) and self._fields[valid].column == "valid_id")
        )

    def _tally(self, valid_only: bool) -> int:
        """The sum of the tally's rows (of `valid_id` 1, or all); folded into one row per validity when
        more than TALLY_FOLD have piled up, in a savepoint of its own (a concurrent fold only waits)."""
        table = connections[self.using].ops.quote_name(self.model.tally_table)
        valid = " WHERE valid_id = 1" if valid_only and self.config.customer_valid else ""
        with connections[self.using].cursor() as cursor:
            cursor.execute(f"SELECT count(*), COALESCE(sum(n), 0) FROM {table}{valid}")
            rows, total = cursor.fetchone()
            if rows > TALLY_FOLD:
                with transaction.atomic(using=self.using):
                    cursor.execute(
                        f"WITH folded AS (DELETE FROM {table} RETURNING valid_id, n)"
                        f" INSERT INTO {table} (valid_id, n)"
                        " SELECT valid_id, sum(n) FROM folded GROUP BY valid_id"
                    )
        return int(total)

    def status(self) -> SourceStatus:
        started = time.perf_counter()
        try:
            self.search(SearchQuery(term="probe*", limit=1))
            probe_ms = (time.perf_counter() - started) * 1000
            return SourceStatus(
                self.alias,
                True,
                probe_ms=probe_ms,
                count=self.count(),
                valid_count=self.count(valid_only=True),
            )
        except SourceUnavailable as exc:
            return SourceStatus(self.alias, False, detail=exc.message)
