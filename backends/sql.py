"""The `DB` source: customer users in a SQL table, read and written through the Map (R40–R64).

The table is our own `customer_user` (the customers app's CustomerUser model). Map storage names are
column names; a storage name without a column lives in the row's `extra_attributes`, so an admin can add
a field to the Map without a migration. Searches are built so that PostgreSQL can answer them from the
indexes the migrations create: `lower(column)` btree indexes for exact matches, and for wildcard matches
the generated `search_key` column with its trigram GIN index (W1): a wildcard term over the key's fields
is first narrowed by one `search_key LIKE …`, then checked field by field.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from functools import cache, cached_property, reduce
from operator import and_, itemgetter, or_
from typing import Any

from django.apps import apps as django_apps
from django.apps.registry import Apps
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import DatabaseError, IntegrityError, connections, models, transaction
from django.db.models import F, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Lower
from django.db.models.lookups import Lookup
from django.utils import timezone
from django.utils.translation import gettext as _

from backends.base import (
    BaseSource,
    CustomerUserRecord,
    SearchQuery,
    SourceResult,
    SourceStatus,
    login_order,
)
from backends.config import LIST_KEYS, ConfigProblem, MapRow, SourceConfig
from backends.connections import database_settings, source_connection
from backends.errors import (
    CustomerUserInvalid,
    CustomerUserNotFound,
    SourceUnavailable,
    empty_password,
    login_taken,
    summarize,
)
from backends.hashers import as_django_encoded
from backends.search import Expression, UnparsableSearch, parse_search
from backends.values import MapRules
from core.actors import user_or_none

EXTRA_ATTRIBUTE_MAX_LENGTH = 1000
NUL = "\x00"  # the databases store no NUL, and PostgreSQL refuses it in a query: such input matches nothing
COUNT_CAP = 200  # a truncated search counts its matches up to this many (beyond: unknown)
TALLY_FOLD = 500  # rows of `customer_user_tally` beyond which a count folds them
_INT_RE = re.compile(r"^[+-]?\d{1,16}$")


class Like(Lookup):
    """`lhs LIKE rhs` with backslash escapes; on SQLite, case-sensitive matching uses GLOB instead."""

    lookup_name = "like"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "mysql":  # backslash is MySQL's escape already, and a string escape
            return f"{lhs} LIKE {rhs}", [*lhs_params, *rhs_params]
        return f"{lhs} LIKE {rhs} ESCAPE '\\'", [*lhs_params, *rhs_params]


class LikeBinary(Like):
    """Case-sensitive LIKE on MySQL, whose text columns compare case-blind by their collation."""

    lookup_name = "like_binary"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} LIKE BINARY {rhs}", [*lhs_params, *rhs_params]


class Glob(Lookup):
    lookup_name = "glob"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} GLOB {rhs}", [*lhs_params, *rhs_params]


def like_pattern(pattern: str) -> str:
    """`*` → `%`; literal `%`, `_` and backslash escaped (R43)."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def glob_pattern(pattern: str) -> str:
    """`*` stays a wildcard; literal `?` and `[` are bracketed (SQLite GLOB is case-sensitive)."""
    return pattern.replace("[", "[[]").replace("?", "[?]")


def own_table() -> type[models.Model]:
    """The product's own customer-user model, named by the CUSTOMER_USER_MODEL setting the way Django names
    its user model, so that the sources need not import the app that defines it."""
    return django_apps.get_model(settings.CUSTOMER_USER_MODEL)


class DBSource(BaseSource):
    """Our own `customer_user` table, or a table in another database (`Params.DSN` or `Params.Database`).

    An external table is read and written through an unmanaged model built from the Map in its own app
    registry, so no migration ever touches it; its columns and their sizes come from the database itself.
    """

    kind = "DB"

    def __init__(self, config: SourceConfig) -> None:
        super().__init__(config)
        self.case_sensitive = _case_sensitive(config.params)  # searches (R11)
        login_row = config.row("UserLogin")
        # R12: a login column the Map types `int` holds numbers; it is compared as a number, never lower()ed.
        self.integer_logins = login_row is not None and login_row.storage_type == "int"
        self.logins_case_sensitive = self.integer_logins or _truthy(config.params.get("CaseSensitive", 0))
        self.external = is_external(config.params)
        self.reads_own_table = not self.external
        self._key_columns: frozenset[str] = frozenset()  # the search key's fields; our own table only
        self._prefix_columns: frozenset[str] = frozenset()  # columns with a `lower(…) COLLATE "C"` index
        if self.external:
            self.using = external_database_alias(config)
            self.model = external_model(config)
        else:
            self.model = own_table()
            self.using = "default"
            self._key_separator = self.model.search_key_separator
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

    # ----------------------------------------------------------------------------------------- reads
    def _expr(self, storage: str):
        field = self._fields.get(storage)
        if field is not None and field.column != "extra_attributes":
            return F(field.name)
        return KT(f"extra_attributes__{storage}")

    def _match(self, storage: str, pattern: str) -> Q:
        if self.case_sensitive:
            vendor = connections[self.using].vendor
            if vendor == "sqlite":
                return Q(Glob(self._expr(storage), glob_pattern(pattern)))
            if vendor == "mysql":
                return Q(LikeBinary(self._expr(storage), like_pattern(pattern)))
            return Q(Like(self._expr(storage), like_pattern(pattern)))
        return Q(Like(Lower(self._text_expr(storage)), like_pattern(pattern).lower()))

    def _equals(self, storage: str, value: str, sensitive: bool | None = None) -> Q:
        if self.case_sensitive if sensitive is None else sensitive:
            return Q(models.lookups.Exact(self._expr(storage), value))
        return Q(models.lookups.Exact(Lower(self._text_expr(storage)), value.lower()))

    def _text_expr(self, storage: str):
        """A column as text, for patterns and case-blind comparisons (a number column is cast)."""
        expression = self._expr(storage)
        if isinstance(self._fields.get(storage), models.IntegerField):
            return Cast(expression, models.CharField())
        return expression

    def _match_any(self, storages: tuple[str, ...], pattern: str) -> Q:
        """The pattern matches at least one of the fields, through the search key where it covers them.

        The key is `␟f1␟f2␟…␟`, lower-cased. Over exactly the key's fields, a case-blind pattern without an
        inner `*` matches some field if and only if the key matches it with `␟` for each end that has no
        wildcard (`mül*` → `%␟mül%`, `*ller*` → `%ller%`): one comparison per row, answered by the key's
        trigram index, and estimated from its statistics. Otherwise the key only narrows the rows (a
        necessary condition) and each field is tested.
        """
        any_field = reduce(or_, (self._match(s, pattern) for s in storages))
        if not self._key_columns.issuperset(storages):
            return any_field
        separator = self._key_separator
        key = pattern.lower()
        key = ("" if key.startswith("*") else f"*{separator}") + key
        key = key if key.endswith("*") else f"{key}{separator}*"
        in_key = Q(Like(F("search_key"), like_pattern(key)))
        exact = (
            not self.case_sensitive
            and self._key_columns == set(storages)
            and "*" not in pattern.strip("*")
            and separator not in pattern
        )
        return in_key if exact else in_key & any_field

    def _expression_q(self, expression: Expression, storages: tuple[str, ...]) -> Q:
        """R43: a positive term matches any search field; a negated term requires that none does."""
        if not storages:
            return Q(pk__in=[])
        groups = []
        for group in expression:
            conditions = []
            for term in group:
                pattern = term.pattern(self.config.search_prefix, self.config.search_suffix)
                if term.negated:
                    conditions.append(~reduce(or_, (self._match(s, pattern) for s in storages)))
                else:
                    conditions.append(self._match_any(storages, pattern))
            groups.append(reduce(and_, conditions))
        return reduce(or_, groups)

    def _base_queryset(self, valid_only: bool):
        qs = self.model._default_manager.using(self.using).all()
        if valid_only and self.config.customer_valid:
            qs = qs.filter(Q(models.lookups.Exact(self._expr(self.config.customer_valid), 1)))
        return qs

    def _selector_q(self, query: SearchQuery) -> Q:
        name, value = query.selector
        config = self.config
        if name == "term":
            return self._expression_q(parse_search(value), self._searchable_storages())
        if name == "postmaster":
            # R45: exact whole-value match on each postmaster field, ORed (parenthesised, as Znuny: D2).
            return reduce(
                or_, (self._equals(s, value) for s in config.postmaster_search_fields), Q(pk__in=[])
            )
        if name == "login":
            if self.integer_logins and "*" not in value:
                return self._equals(config.customer_key, value) if _INT_RE.match(value) else Q(pk__in=[])
            # W2: exact (case-insensitive) unless the caller asks for `*` wildcards; never a substring.
            if "*" in value:
                return self._match_any((config.customer_key,), value)
            return self._equals(config.customer_key, value)
        if name == "customer_id":
            # R47 with `*` as wildcard; `%` is literal here like everywhere else (W3).
            return self._match_any((config.customer_id,), value)
        return self._equals(config.customer_id, value)  # customer_id_raw, R48

    def search(self, query: SearchQuery) -> SourceResult:
        limit = query.limit or self.config.search_list_limit
        if NUL in query.selector[1]:
            return SourceResult(records=[], total=0)  # no stored value holds NUL: nothing can match
        selector = query.selector[0]
        if selector == "postmaster":
            fast = self._postmaster_search(query, limit)
            if fast is not None:
                return fast
        try:
            if selector == "term" and (prefix := self._prefix_search(query, limit)) is not None:
                return prefix
            condition = self._selector_q(query)
        except UnparsableSearch:
            return SourceResult(records=[])
        try:
            where, params = self._where(self._base_queryset(query.valid_only).filter(condition))
        except EmptyResultSet:
            return SourceResult(records=[], total=0)
        cap = max(COUNT_CAP, limit)
        hits_limit = connections[self.using].ops.limit_offset_sql(0, cap + 1)
        if selector == "login":  # the list (`*`) and login wildcards: the first logins, in login order
            sql = (
                f"SELECT {self._read_columns}, {self._login_order} AS hit_key FROM {self._table}{where}"
                f" ORDER BY hit_key {hits_limit}"
            )
        else:  # R20 promises no order: any `limit` matches, where a filter may stop, whatever the term
            sql = f"{self._select_from}{where} {hits_limit}"
        return self._page(sql, params, limit, cap, ordered=selector == "login")

    def _where(self, qs) -> tuple[str, list]:
        """` WHERE …` as the ORM writes it for `qs` (its lookups, escapes and vendor quirks), without
        compiling a whole SELECT of every column, which took longer than a 250-row page needs."""
        try:
            sql, params = qs.query.get_compiler(using=self.using).compile(qs.query.where)
        except FullResultSet:
            return "", []
        return (f" WHERE {sql}" if sql else ""), list(params)

    def _page(self, hits_sql: str, params: list | tuple, limit: int, cap: int, ordered: bool) -> SourceResult:
        """The first `limit` of the rows `hits_sql` selects (the `_read_fields`, at most `cap + 1` rows;
        then `hit_key` when `ordered`) as records, and how many it selected: exact up to `cap`, unknown
        beyond (W6). The rows come straight from the matching statement, not read again by key."""
        first_page = connections[self.using].ops.limit_offset_sql(0, limit)
        order = "ORDER BY s.hit_key " if ordered else ""
        sql = f"SELECT COUNT(*) OVER () AS n, s.* FROM ({hits_sql}) s {order}{first_page}"
        rows = self._run(sql, params, "search")
        matched = rows[0][0] if rows else 0
        end = -1 if ordered else None
        records = self._records([row[1:end] for row in rows])
        if not ordered:
            records.sort(key=login_order)
        return SourceResult(
            records=records,
            has_more=matched > limit,
            total=matched if matched <= cap else None,
        )

    def _prefix_search(self, query: SearchQuery, limit: int) -> SourceResult | None:
        """One term `x*` (or `x`) over columns that each have a `lower(…) COLLATE "C"` index: per column,
        the first `cap + 1` matches straight from its index, and their union. It costs the same for `a*`
        as for a login that matches once, where the trigram index reads a posting list per trigram and
        the planner, guessing the selectivity of `LIKE`, may sort tens of thousands of rows.

        Exact: a union of the columns' matches is every match when no column reached `cap + 1`, and more
        than `cap` otherwise. None when the search is not of that shape (the general plan handles it).
        """
        config = self.config
        if self.case_sensitive or not self._prefix_columns or connections[self.using].vendor != "postgresql":
            return None
        expression = parse_search(query.term)
        if len(expression) != 1 or len(expression[0]) != 1 or expression[0][0].negated:
            return None
        pattern = expression[0][0].pattern(config.search_prefix, config.search_suffix)
        if "*" in pattern.rstrip("*") or not pattern.strip("*"):
            return None
        storages = self._searchable_storages()
        valid = config.customer_valid if query.valid_only else None
        if not storages or not self._prefix_columns.issuperset(storages):
            return None
        if valid and not self._is_column(valid):
            return None
        quote = connections[self.using].ops.quote_name
        where_valid = f"{quote(self._fields[valid].column)} = 1 AND " if valid else ""
        cap = max(COUNT_CAP, limit)
        branches = []
        for storage in storages:
            column = f'LOWER({quote(self._fields[storage].column)}) COLLATE "C"'
            branches.append(
                f"(SELECT {self._read_columns} FROM {self._table} WHERE {where_valid}{column} LIKE %s"
                f" ORDER BY {column} LIMIT {cap + 1})"
            )
        params = [like_pattern(pattern).lower()] * len(branches)
        return self._page(" UNION ".join(branches), params, limit, cap, ordered=False)

    def _searchable_storages(self) -> tuple[str, ...]:
        """The search fields a term is matched against (never the password, R43)."""
        return tuple(
            s
            for s in self.config.search_fields
            if (row := self.config.row_for_storage(s)) is None or not row.is_password
        )

    def get(self, login: str) -> CustomerUserRecord | None:
        """R55: case-insensitive lookup by login, invalid users included."""
        if not login or NUL in login or (self.integer_logins and not _INT_RE.match(login)):
            return None  # a number column holds no other login: not found, never an error
        sensitive = self.logins_case_sensitive
        rows = self._select_rows(
            "get", self._exact(self.config.customer_key, sensitive), [self._fold(login, sensitive)], 1
        )
        return rows[0] if rows else None

    @cached_property
    def _converters(self) -> list:
        """What the ORM would do to each selected value (JSON decoding, SQLite dates, …)."""
        connection = connections[self.using]
        converters = []
        for index, field in enumerate(self._read_fields):
            column = field.get_col(self.model._meta.db_table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                converters.append((index, column, found))
        return converters

    def _is_column(self, storage: str) -> bool:
        return storage in self._fields and self._fields[storage].column != "extra_attributes"

    def _fold(self, value: str, sensitive: bool | None = None) -> str:
        return value if (self.case_sensitive if sensitive is None else sensitive) else value.lower()

    def _exact(self, storage: str, sensitive: bool | None = None) -> str:
        connection = connections[self.using]
        column = connection.ops.quote_name(self._fields[storage].column)
        sensitive = self.case_sensitive if sensitive is None else sensitive
        if not sensitive:
            return f"LOWER({column}) = %s"
        return f"BINARY {column} = %s" if connection.vendor == "mysql" else f"{column} = %s"

    @cached_property
    def _read_fields(self) -> tuple[models.Field, ...]:
        """The columns a record is built from: not the search key (for the database only), not the password
        hash (it never leaves the source), and `extra_attributes` only when the Map keeps a field there
        (decoding its JSON was a tenth of a 250-row page)."""
        skipped = {"extra_attributes"}
        for row in self.config.map_rows:
            field = self._fields.get(row.storage)
            if row.is_password:
                skipped.add(field.column if field is not None else "")
            elif field is None or field.column == "extra_attributes":
                skipped.discard("extra_attributes")
        return tuple(
            f for f in self.model._meta.concrete_fields if not f.generated and f.column not in skipped
        )

    def _select_rows(self, operation: str, where: str, params: list, limit: int) -> list[CustomerUserRecord]:
        """The hottest reads (data get, exact e-mail) as hand-written statements: the ORM took longer to
        compile them than the index takes to answer."""
        sql = f"{self._select_from} WHERE {where} ORDER BY {self._login_order} LIMIT {int(limit)}"
        return self._records(self._run(sql, params, operation))

    @cached_property
    def _read_columns(self) -> str:
        quote = connections[self.using].ops.quote_name
        return ", ".join(quote(f.column) for f in self._read_fields)

    @cached_property
    def _table(self) -> str:
        return connections[self.using].ops.quote_name(self.model._meta.db_table)

    @cached_property
    def _select_from(self) -> str:
        return f"SELECT {self._read_columns} FROM {self._table}"

    @cached_property
    def _login_order(self) -> str:
        connection = connections[self.using]
        key = connection.ops.quote_name(self._fields[self.config.customer_key].column)
        if self.integer_logins:  # login_order compares text: 12 before 7
            return f"CAST({key} AS {'CHAR' if connection.vendor == 'mysql' else 'VARCHAR(20)'})"
        return key if self.case_sensitive else f"LOWER({key})"

    def _run(self, sql: str, params: list | tuple, operation: str) -> list[tuple]:
        try:
            self._check_columns()
            with connections[self.using].cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        except DatabaseError as exc:
            raise SourceUnavailable(alias=self.alias, operation=operation, detail=str(exc).strip()) from exc

    def _records(self, rows: list[tuple]) -> list[CustomerUserRecord]:
        """Records from rows of `_read_fields`, converted as the ORM would (JSON, SQLite dates, …)."""
        connection = connections[self.using]
        converters = self._converters
        records = []
        for row in rows:
            values = list(row)
            for index, column, functions in converters:
                for convert in functions:
                    values[index] = convert(values[index], column, connection)
            records.append(self._record_of(values))
        return records

    def _postmaster_search(self, query: SearchQuery, limit: int) -> SourceResult | None:
        """R45: whole-value, case-insensitive equality on the postmaster fields that are columns."""
        fields = self.config.postmaster_search_fields
        valid = self.config.customer_valid if query.valid_only else None
        if not fields or any(not self._is_column(f) for f in (*fields, *([valid] if valid else []))):
            return None  # a field kept in extra_attributes: the ORM path handles it
        where = "(" + " OR ".join(self._exact(f) for f in fields) + ")"
        params = [self._fold(query.postmaster.strip())] * len(fields)
        if valid:
            where += f" AND {connections[self.using].ops.quote_name(self._fields[valid].column)} = 1"
        rows = self._select_rows("search", where, params, limit + 1)
        return SourceResult(
            records=rows[:limit], has_more=len(rows) > limit, total=None if len(rows) > limit else len(rows)
        )

    def get_many(self, logins: Iterable[str]) -> dict[str, CustomerUserRecord]:
        """One query for many logins (chunked), compared like get()."""
        logins = list(dict.fromkeys(login for login in logins if login and NUL not in login))
        if self.integer_logins:
            logins = [int(login) for login in logins if _INT_RE.match(login)]
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

    def _field_name(self, storage: str) -> str:
        return self._fields[storage].name

    def _key_order(self):
        """Logins in case-blind order, which the lower(login) index can deliver without sorting."""
        key = F(self._field_name(self.config.customer_key))
        if self.integer_logins:  # login_order compares text: 12 before 7
            return Cast(key, models.CharField()).asc()
        return key.asc() if self.case_sensitive else Lower(key).asc()

    def _fetch(self, qs, operation: str) -> list[Any]:
        try:
            self._check_columns()
            return list(qs)
        except DatabaseError as exc:
            raise SourceUnavailable(alias=self.alias, operation=operation, detail=str(exc).strip()) from exc

    @cached_property
    def _read_plan(
        self,
    ) -> tuple[
        tuple[tuple[str, int, MapRow], ...],
        int | None,
        tuple[tuple[str, str, MapRow], ...],
        tuple[tuple[str, int], ...],
    ]:
        """Where a record's values are in a row of `_read_fields`: the readable Map rows kept in a column
        (attribute, index, row), the index of `extra_attributes` and the rows kept there (attribute,
        storage, row), and the audit columns and the list and name fields outside the Map, by their own
        names."""
        index = {f.attname: i for i, f in enumerate(self._read_fields)}
        in_columns, in_extra = [], []
        for map_row in self.config.map_rows:
            if map_row.is_password:
                continue  # the hash never leaves the source
            field = self._fields.get(map_row.storage)
            if field is not None and field.column != "extra_attributes":
                in_columns.append((map_row.attribute, index[field.attname], map_row))
            else:
                in_extra.append((map_row.attribute, map_row.storage, map_row))
        audit = tuple(
            (attribute, index[attname])
            for attribute, attname in (
                ("CreateTime", "created_at"), ("ChangeTime", "changed_at"),
                ("CreateBy", "created_by_id"), ("ChangeBy", "changed_by_id"),
            )
            if attname in index
        )  # fmt: skip
        unmapped = tuple(
            (name, index[self._fields[name].attname]) for name in self.config.unmapped_shown_fields
        )
        return tuple(in_columns), index.get("extra_attributes"), tuple(in_extra), audit + unmapped

    @cached_property
    def _column_plan(
        self,
    ) -> tuple[tuple[str, ...], Callable[[list[Any]], tuple], tuple[tuple[str, MapRow], ...]]:
        """The Map attributes kept in columns, a function picking their values out of a row, and the
        ones whose values need `_from_storage` (int rows, columns that hold no text); text stays as read."""
        in_columns = self._read_plan[0]
        indexes = [i for _, i, _ in in_columns]
        pick = itemgetter(*indexes) if len(indexes) > 1 else lambda values: tuple(values[i] for i in indexes)
        typed = tuple(
            (attribute, row)
            for attribute, i, row in in_columns
            if row.storage_type == "int"
            or not isinstance(self._read_fields[i], models.CharField | models.TextField)
        )
        return tuple(a for a, _, _ in in_columns), pick, typed

    def _record(self, row: models.Model) -> CustomerUserRecord:
        return self._record_of([getattr(row, f.attname) for f in self._read_fields])

    def _record_of(self, values: list[Any]) -> CustomerUserRecord:
        """The record of one row of `_read_fields` (values converted as the ORM would). The hottest loop
        of a search page: text stays as it is, everything else goes through `_from_storage`."""
        _, extra_index, in_extra, audit = self._read_plan
        names, pick, typed = self._column_plan
        attributes: dict[str, Any] = dict(zip(names, pick(values), strict=True))
        for attribute, row in typed:
            attributes[attribute] = _from_storage(attributes[attribute], row)
        if None in attributes.values():  # NULL in a text column
            attributes = {name: "" if value is None else value for name, value in attributes.items()}
        if in_extra:
            extra = (values[extra_index] if extra_index is not None else None) or {}
            for attribute, storage, row in in_extra:
                attributes[attribute] = _from_storage(
                    extra.get(storage, 0 if row.storage_type == "int" else ""), row
                )
        login = attributes["UserID"] = str(attributes.get("UserLogin") or values[self._key_index])
        for attribute, i in audit:
            attributes.setdefault(attribute, values[i])
        return self.make_record(login, attributes)

    @cached_property
    def _key_index(self) -> int:
        return [f.column for f in self._read_fields].index(self._fields[self.config.customer_key].column)

    # ----------------------------------------------------------------------------------------- writes
    def add(
        self, attributes: Mapping[str, Any], *, acting_user: Any, password: str = ""
    ) -> CustomerUserRecord:
        """R56: validate everything, then insert one row, its password hash included; nothing is written
        when anything is wrong (the row and its hash are one statement, whichever database holds them)."""
        values = dict(attributes)
        login = str(values.get("UserLogin") or "").strip()
        self.refuse_if_read_only(login)
        if not login and self.config.auto_login_creation:
            login = self._auto_login()
        values["UserLogin"] = login
        values.setdefault("ValidID", 1)
        self._check_columns()
        with transaction.atomic(using=self.using):
            errors = self.validate(values, existing=None)
            if errors:
                raise CustomerUserInvalid(errors, login=login, summary=summarize(errors))
            columns = self._columns_for(values, existing=None)
            if password:
                columns[self._password_field().name] = self._hash_for_storage(password, login)
            row = self.model(**columns)
            if not self.external:
                row.created_by = row.changed_by = user_or_none(acting_user)
            self._save(row, login, force_insert=True)
        return self._record(row)

    def update(self, login: str, attributes: Mapping[str, Any], *, acting_user: Any) -> CustomerUserRecord:
        """R58: a full replace of every writable Map attribute of the user found by its old login."""
        self.refuse_if_read_only(login)
        values = dict(attributes)
        self._check_columns()
        with transaction.atomic(using=self.using):
            row = (
                self._base_queryset(False)
                .select_for_update()
                .filter(self._equals(self.config.customer_key, login, self.logins_case_sensitive))
                .first()
            )
            if row is None:
                raise CustomerUserNotFound(login=login)
            current = self._record(row)
            self.keep_read_only_rows(values, current)
            errors = self.validate(values, existing=current)
            if errors:
                raise CustomerUserInvalid(errors, login=login, summary=summarize(errors))
            columns = self._columns_for(values, existing=row)
            if self.external:
                # The login may be the table's key: update by the old key instead of saving the row, which
                # would insert a second row under the new key.
                old_key = self._base_queryset(False).filter(
                    self._equals(self.config.customer_key, login, self.logins_case_sensitive)
                )
                self._save_update(old_key, columns, login)
                row = old_key.model(
                    **{**{f.attname: getattr(row, f.attname) for f in self._fields.values()}, **columns}
                )
            else:
                for name, value in columns.items():
                    setattr(row, name, value)
                row.changed_by = user_or_none(acting_user)
                self._save(row, login)
        return self._record(row)

    @property
    def supports_password(self) -> bool:  # type: ignore[override]
        """A table keeps passwords where the Map names their column (R12)."""
        return self.config.row("UserPassword") is not None

    def set_password(self, login: str, password: str) -> None:
        """R90, hashed with Django's hasher (W7); a Map without UserPassword is an error, not a no-op."""
        self.refuse_if_read_only(login)
        row = self.config.row("UserPassword")
        if row is None:
            raise CustomerUserInvalid(
                {
                    "UserPassword": [
                        _("Source %(alias)s has no UserPassword row in its Map.") % {"alias": self.alias}
                    ]
                },
                login=login,
                summary=_("this source stores no passwords"),
            )
        if not password:
            raise empty_password(login)
        self._check_columns()
        encoded = self._hash_for_storage(password, login)
        with transaction.atomic(using=self.using):
            changed = (
                self._base_queryset(False)
                .filter(self._equals(self.config.customer_key, login, self.logins_case_sensitive))
                .update(
                    **{self._field_name(row.storage): encoded},
                    **({} if self.external else {"changed_at": timezone.now()}),
                )
            )
        if not changed:
            raise CustomerUserNotFound(login=login)

    def check_password(self, login: str, password: str) -> bool | None:
        row = self.config.row("UserPassword")
        if row is None or not login or NUL in login:
            return None
        stored = self._fetch(
            self._base_queryset(False)
            .filter(self._equals(self.config.customer_key, login, self.logins_case_sensitive))
            .values_list(self._field_name(row.storage), flat=True),
            "check_password",
        )
        if not stored:
            return None
        encoded = as_django_encoded(stored[0] or "")
        if not password or encoded is None:
            return False

        def upgrade(clear: str) -> None:
            """R88 → W7: a reference hash that verified is replaced by Django's hash of the same password,
            where one fits the column; else the reference's hash stays (an OTRS 3 `pw VARCHAR(64)`)."""
            replacement = None if self.read_only else self._fitting_hash(clear)
            if replacement is None or (replacement.startswith("$2") and encoded.startswith("bcrypt$")):
                return  # nothing that fits is better than what is stored
            with transaction.atomic(using=self.using):
                self._base_queryset(False).filter(
                    self._equals(self.config.customer_key, login, self.logins_case_sensitive)
                ).update(**{self._field_name(row.storage): replacement})

        return check_password(password, encoded, setter=upgrade)

    def _password_field(self) -> models.Field:
        return self._fields[self.config.row("UserPassword").storage]

    def _fitting_hash(self, password: str) -> str | None:
        """Django's preferred hash of `password`; where the column is too short for it (OTRS 3 made
        `pw VARCHAR(64)`), bcrypt in its own 60-character form, which Django verifies too; None if neither
        fits (or the password is beyond bcrypt's 72 bytes)."""
        room = getattr(self._password_field(), "max_length", None) or 10_000
        encoded = make_password(password)
        if len(encoded) <= room:
            return encoded
        if len(password.encode()) > 72 or room < 60:
            return None
        compact = make_password(password, hasher="bcrypt").removeprefix("bcrypt$")
        return compact if len(compact) <= room else None

    def _hash_for_storage(self, password: str, login: str) -> str:
        encoded = self._fitting_hash(password)
        if encoded is None:
            room = self._password_field().max_length
            why = _("bcrypt takes at most 72 bytes") if room >= 60 else _("widen the column to at least 128")
            message = _(
                "No password hash fits the %(room)d-character password column of this source (%(why)s)."
            ) % {"room": room, "why": why}
            raise CustomerUserInvalid(
                {"UserPassword": [message]},
                login=login,
                summary=_("the password column is too short"),
            )
        return encoded

    def _save_update(self, queryset, columns: dict[str, Any], login: str) -> None:
        try:
            with transaction.atomic(using=self.using):
                queryset.update(**columns)
        except IntegrityError as exc:
            raise login_taken(login, taken=columns.get(self._field_name(self.config.customer_key))) from exc
        except DatabaseError as exc:
            raise SourceUnavailable(alias=self.alias, operation="write", detail=str(exc).strip()) from exc

    def _save(self, row: models.Model, login: str, force_insert: bool = False) -> None:
        try:
            with transaction.atomic(using=self.using):
                row.save(using=self.using, force_insert=force_insert)
        except IntegrityError as exc:
            raise login_taken(login) from exc
        except DatabaseError as exc:
            raise SourceUnavailable(alias=self.alias, operation="write", detail=str(exc).strip()) from exc

    def _auto_login(self) -> str:
        """R56(4): `<prefix>-<YYYYMMDDhhmm><n>`, the first one not taken."""
        stamp = timezone.localtime().strftime("%Y%m%d%H%M")
        base = f"{self.config.auto_login_creation_prefix}-{stamp}"
        for n in range(10_000):
            candidate = f"{base}{n}"
            if self.get(candidate) is None:
                return candidate
        return f"{base}{int(time.time() * 1000)}"

    def _columns_for(self, values: Mapping[str, Any], existing: models.Model | None) -> dict[str, Any]:
        """Model field values for every writable Map row; a column mapped twice is written once (R56)."""
        columns: dict[str, Any] = {}
        extra = dict(getattr(existing, "extra_attributes", None) or {})
        written: set[str] = set()
        for map_row in self.config.map_rows:
            if map_row.is_password or (existing is not None and map_row.read_only):
                continue
            if map_row.storage in written:
                continue
            written.add(map_row.storage)
            value = _to_storage(values.get(map_row.attribute), map_row)
            field = self._fields.get(map_row.storage)
            if field is not None and field.column != "extra_attributes":
                columns[field.name] = value
            else:
                extra[map_row.storage] = value
        if "extra_attributes" in self._fields:
            columns["extra_attributes"] = extra
        return columns

    @cached_property
    def rules(self) -> MapRules:
        """Compiled once the columns are known (an external table's sizes come from the database)."""
        self._check_columns()
        return MapRules(self.config, self.storage_size)

    def storage_size(self, row: MapRow) -> int | None:
        field = self._fields.get(row.storage)
        if field is None or field.column == "extra_attributes":
            return EXTRA_ATTRIBUTE_MAX_LENGTH
        return getattr(field, "max_length", None)

    def lock_email(self, email: str) -> None:
        """Serialise concurrent writers of one e-mail address, closing the reference's race (W9)."""
        connection = connections[self.using]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(email.casefold().encode())])

    def email_taken(self, email: str, *, exclude_login: str | None) -> bool:
        """R56(5)/R57: a case-insensitive whole-value match over all users of this source, invalid too."""
        email_row = self.config.row("UserEmail")
        qs = self._base_queryset(False).filter(self._equals(email_row.storage, email))
        if exclude_login is not None:
            qs = qs.exclude(self._equals(self.config.customer_key, exclude_login, self.logins_case_sensitive))
        return qs.exists()


def _case_sensitive(params: Mapping[str, Any]) -> bool:
    """R11: searches are case-sensitive by SearchCaseSensitive if defined, else CaseSensitive, else not."""
    return _truthy(params.get("SearchCaseSensitive", params.get("CaseSensitive", 0)))


def _truthy(value: Any) -> bool:
    return value not in (None, "", 0, "0", False)


def _from_storage(value: Any, row: MapRow) -> Any:
    if value.__class__ is str and row.storage_type != "int":
        return value
    if row.storage_type == "int":
        try:
            return int(value or 0)
        except (TypeError, ValueError):
            return 0
    if isinstance(value, datetime):
        return value
    return "" if value is None else str(value)


def _to_storage(value: Any, row: MapRow) -> Any:
    if row.storage_type == "int":
        text = "" if value is None else str(value).strip()
        return int(text) if text else 0  # R12: an empty int is stored as 0
    return "" if value is None else str(value).strip()


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…"


# --------------------------------------------------------------------------------- external tables
def is_external(params: Mapping[str, Any]) -> bool:
    return isinstance(params, Mapping) and bool(params.get("DSN") or params.get("Database"))


def external_config_problems(raw: Mapping[str, Any]) -> list[ConfigProblem]:
    from django.conf import settings

    params = raw.get("Params") or {}
    problems = []
    if params.get("DSN") and params.get("Database"):
        problems.append(
            ConfigProblem("['Params']", "give DSN or Database, not both", check_id="backends.E032")
        )
    if params.get("Database") and params["Database"] not in settings.DATABASES:
        problems.append(
            ConfigProblem(
                "['Params']['Database']",
                f"{params['Database']!r} is not a DATABASES alias",
                hint=f"Use one of: {', '.join(settings.DATABASES)}, or give a DSN.",
                check_id="backends.E032",
            )
        )
    if params.get("DSN"):
        try:
            database_settings(str(params["DSN"]))
        except (ValueError, KeyError) as exc:
            problems.append(
                ConfigProblem(
                    "['Params']['DSN']",
                    f"{params['DSN']!r} is not a database URL or DBI DSN: {exc}",
                    hint="For example postgres://user:password@host:5432/name, "
                    "DBI:Pg:dbname=name;host=host;port=5432 or DBI:mysql:database=name;host=host.",
                    check_id="backends.E032",
                )
            )
    table = params.get("Table")
    if not isinstance(table, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", table or ""):
        problems.append(
            ConfigProblem("['Params']['Table']", f"{table!r} is not a table name", check_id="backends.E032")
        )
    for key in LIST_KEYS:  # columns of the table, in the Map or not; their existence is checked on connect
        for name in raw.get(key) or ():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                problems.append(
                    ConfigProblem(f"[{key!r}]", f"{name!r} is not a column name", check_id="backends.E032")
                )
    for index, row in enumerate(raw.get("Map") or ()):
        if len(row) > 5 and row[5] == "dynamic_field":
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(row[2])):
            problems.append(
                ConfigProblem(
                    f"['Map'][{index}][2]", f"{row[2]!r} is not a column name", check_id="backends.E032"
                )
            )
    return problems


def external_database_alias(config: SourceConfig) -> str:
    params = config.params
    if params.get("Database"):
        return str(params["Database"])
    settings_dict = database_settings(str(params["DSN"]))
    if params.get("User"):
        settings_dict["USER"] = str(params["User"])
    if params.get("Password"):
        settings_dict["PASSWORD"] = str(params["Password"])
    settings_dict.setdefault("OPTIONS", {})
    if settings_dict["ENGINE"].endswith("postgresql"):
        timeout = max(1, int(config.timeout))
        settings_dict["OPTIONS"].setdefault("connect_timeout", timeout)
    settings_dict["CONN_HEALTH_CHECKS"] = True
    return source_connection(f"source:{config.alias}:{config.fingerprint}", settings_dict)


@cache
def _external_model(alias: str, table: str, key: str, columns: tuple[tuple[str, bool], ...]) -> type:
    attrs: dict[str, Any] = {
        "__module__": __name__,
        "Meta": type(
            "Meta", (), {"db_table": table, "managed": False, "apps": Apps(), "app_label": "backends"}
        ),
    }
    for column, is_int in columns:
        name = "c_" + column.lower()
        if is_int:
            attrs[name] = models.IntegerField(db_column=column, null=column != key, primary_key=column == key)
        else:
            attrs[name] = models.CharField(
                db_column=column, max_length=1000, null=True, primary_key=column == key
            )
    return type(f"External{alias}", (models.Model,), attrs)


def external_model(config: SourceConfig) -> type[models.Model]:
    """An unmanaged model of the external table: one field per Map column, the login column as key."""
    columns: dict[str, bool] = {}
    for row in config.map_rows:
        if not row.is_dynamic_field:
            columns.setdefault(row.storage, row.storage_type == "int")
    for column in (config.customer_key, config.customer_id, config.customer_valid, *config.unmapped_fields):
        if column:
            columns.setdefault(column, False)
    return _external_model(
        config.alias, str(config.params["Table"]), config.customer_key, tuple(columns.items())
    )
