"""The read plan of the DB source: which columns a record is read from, and how one row becomes a
record. Every read path (get, get_many, search, iter_records) builds its records here, so they agree."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from operator import itemgetter
from typing import Any

from django.db import DatabaseError, connections, models
from django.db.models import F
from django.db.models.functions import Cast, Lower

from backends.base import CustomerUserRecord
from backends.config import MapRow
from backends.errors import SourceUnavailable
from backends.sql.common import from_storage


class RecordReads:
    """How rows become records: the one read plan of every read path."""

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
        ones whose values need `from_storage` (int rows, columns that hold no text); text stays as read."""
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

    def record_of_row(self, row: models.Model) -> CustomerUserRecord:
        """The record of a row of this source's own table already read (no second query)."""
        return self._record(row)

    def _record_of(self, values: list[Any]) -> CustomerUserRecord:
        """The record of one row of `_read_fields` (values converted as the ORM would). The hottest loop
        of a search page: text stays as it is, everything else goes through `from_storage`."""
        _, extra_index, in_extra, audit = self._read_plan
        names, pick, typed = self._column_plan
        attributes: dict[str, Any] = dict(zip(names, pick(values), strict=True))
        for attribute, row in typed:
            attributes[attribute] = from_storage(attributes[attribute], row)
        if None in attributes.values():  # NULL in a text column
            attributes = {name: "" if value is None else value for name, value in attributes.items()}
        if in_extra:
            extra = (values[extra_index] if extra_index is not None else None) or {}
            for attribute, storage, row in in_extra:
                attributes[attribute] = from_storage(
                    extra.get(storage, 0 if row.storage_type == "int" else ""), row
                )
        login = attributes["UserID"] = str(attributes.get("UserLogin") or values[self._key_index])
        for attribute, i in audit:
            attributes.setdefault(attribute, values[i])
        return self.make_record(login, attributes)

    @cached_property
    def _key_index(self) -> int:
        return [f.column for f in self._read_fields].index(self._fields[self.config.customer_key].column)
