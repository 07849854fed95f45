"""Copy customers, customer users and their relations from an OTRS, Znuny or OTOBO database.

Everything is read from the reference's own tables (R1–R9) through a database URL and streamed into
temporary staging tables by COPY (from a PostgreSQL reference its own `COPY … TO STDOUT` through a pipe,
from MySQL a server-side cursor in batches), then written by one set-based statement per
table: new rows are inserted, existing ones (customer users by login, case-blind: R55) are updated only
where a value differs, relations are resolved by joins in the database. Memory stays flat whatever the
size, and a second run writes only what changed.

All or nothing: the whole import is one transaction, so an error (or `--dry-run`) leaves the database as
it was; there is nothing to resume. Password hashes are copied as they are; their formats (R88) verify at
the next login and are then replaced (W7). The target is PostgreSQL, the production database.
"""

from __future__ import annotations

import io
import itertools
import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import dj_database_url
from django.db import connection, connections, transaction

from backends.base import RESERVED_ATTRIBUTES
from backends.connections import forget_source_connection, source_connection
from backends.registry import sources
from core import history
from core.generations import forget_customer_user_answers
from customers.imports import COPY_ESCAPES
from customers.models import Customer, CustomerUser, DefaultService, Group, MigratedRow, Service, Validity
from customers.rules import customer_problems

logger = logging.getLogger(__name__)
MIGRATION = history.Acting("command", "migration")  # who writes a migration's history

BATCH = 20_000  # rows per fetch from the reference and per COPY into the staging tables
EXAMPLES = 20  # skipped rows named in the result (all are counted)
MIGRATED = MigratedRow._meta.db_table

# What is read: the reference's table, its columns, and their staging types (text unless named).
CUSTOMER_COLUMNS = ("customer_id", "name", "street", "zip", "city", "country", "url", "comments", "valid_id")
USER_COLUMNS = (
    "login", "email", "customer_id", "pw", "title", "first_name", "last_name", "phone", "fax", "mobile",
    "street", "zip", "city", "country", "comments", "valid_id",
)  # fmt: skip
INTEGER_COLUMNS = {"valid_id", "id", "group_id", "service_id", "permission_value"}


@dataclass(frozen=True)
class Stage:
    """One reference table copied into a staging table `z_<name>` (with its reading order in `n`)."""

    name: str
    table: str
    columns: tuple[str, ...]
    where: str = ""

    def select(self) -> str:
        where = f" WHERE {self.where}" if self.where else ""
        return f"SELECT {', '.join(self.columns)} FROM {self.table}{where}"


class Progress(Protocol):
    """What the import reports to (a tqdm bar does): rows staged, and the step it is at."""

    def update(self, n: int) -> Any: ...
    def set_description(self, desc: str) -> Any: ...


@dataclass
class ZnunyImport:
    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # at most EXAMPLES per kind; every one is counted

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


class ReferenceDatabase:
    """Read-only access to the reference's tables, streamed from a server-side cursor."""

    def __init__(self, dsn: str) -> None:
        settings_dict = dj_database_url.parse(dsn)
        self.alias = source_connection(f"znuny:{dsn}", settings_dict)
        self.connection = connections[self.alias]

    def close(self) -> None:
        forget_source_connection(self.alias)

    def tables(self) -> set[str]:
        with self.connection.cursor() as cursor:
            return set(self.connection.introspection.table_names(cursor))

    def count(self, table: str) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            return cursor.fetchone()[0]

    def copy_out(self, sql: str, copy_in: Callable[[io.RawIOBase], Any], progress: Progress | None) -> None:
        """Stream `COPY (sql) TO STDOUT` of a PostgreSQL reference into `copy_in` (the target's COPY FROM)
        through a pipe: no row passes through Python, and memory holds one pipe buffer."""
        self.connection.ensure_connection()
        read_end, write_end = os.pipe()
        failed: list[BaseException] = []

        def produce() -> None:
            with os.fdopen(write_end, "wb") as sink:
                try:
                    with self.connection.connection.cursor() as cursor:
                        cursor.copy_expert(f"COPY ({sql}) TO STDOUT", sink)
                except BaseException as exc:  # re-raised below, in the importing thread
                    failed.append(exc)

        producer = threading.Thread(target=produce, name="reference-copy", daemon=True)
        producer.start()
        rows = _Rows(read_end, progress)
        try:
            copy_in(rows)
        finally:
            rows.close()  # a producer still writing gets a broken pipe and ends
            producer.join()
        if failed and not isinstance(failed[0], BrokenPipeError):
            raise failed[0]

    def batches(self, sql: str) -> Iterator[list[tuple]]:
        """The rows of `sql` in lists of BATCH, never all at once: a named cursor on PostgreSQL, an
        unbuffered one on MySQL (whose default cursor reads the whole result first)."""
        self.connection.ensure_connection()
        if self.connection.vendor == "mysql":
            from MySQLdb.cursors import SSCursor

            cursor = self.connection.connection.cursor(SSCursor)
        else:
            cursor = self.connection.chunked_cursor()
        try:
            cursor.execute(sql)
            while batch := cursor.fetchmany(BATCH):
                yield batch
        finally:
            cursor.close()


def reference_stages(tables: set[str]) -> list[Stage]:
    """What this reference database holds of what is copied (customer_company and customer_user always)."""
    group_table = next((t for t in ("permission_groups", "groups") if t in tables), None)
    wanted = [
        Stage("customer", "customer_company", CUSTOMER_COLUMNS),
        Stage("user", "customer_user", USER_COLUMNS),
        Stage("group", group_table or "", ("id", "name", "comments", "valid_id")),
        Stage("service", "service", ("id", "name", "comments", "valid_id")),
        Stage("preference", "customer_preferences", ("user_id", "preferences_key", "preferences_value")),
        Stage("user_customer", "customer_user_customer", ("user_id", "customer_id")),
        Stage("user_group", "group_customer_user", ("user_id", "group_id", "permission_key"),
              "permission_value = 1"),
        Stage("customer_group", "group_customer",
              ("customer_id", "group_id", "permission_key", "permission_context"), "permission_value = 1"),
        Stage("user_service", "service_customer_user", ("customer_user_login", "service_id")),
    ]  # fmt: skip
    return [stage for stage in wanted if stage.table in tables]


def rows_to_read(dsn: str) -> int:
    """How many rows the import reads from the reference (for a progress bar)."""
    source = ReferenceDatabase(dsn)
    try:
        return sum(source.count(stage.table) for stage in reference_stages(source.tables()))
    finally:
        source.close()


def import_from_reference(
    dsn: str, *, dry_run: bool = False, progress: Progress | None = None
) -> ZnunyImport:
    if connection.vendor != "postgresql":
        raise ValueError(
            f"the import writes to PostgreSQL (the production database), not {connection.vendor}"
        )
    source = ReferenceDatabase(dsn)
    result = ZnunyImport()
    try:
        tables = source.tables()
        missing = {"customer_company", "customer_user"} - tables
        if missing:
            raise ValueError(
                f"{dsn.split('@')[-1]}: not a reference database; no table {', '.join(sorted(missing))}"
            )
        stages = reference_stages(tables)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL gin_pending_list_limit = '64MB'")  # as the CSV import (bulk merge)
            cursor.execute(
                "SET LOCAL work_mem = '64MB'"
            )  # the one-per-login sort of a million rows in memory
            for stage in stages:
                _stage(source, stage, cursor, progress)
            staged = {stage.name for stage in stages}
            writer = _Writer(cursor, result, progress)
            screen = _Screen(cursor, writer)
            screen.customers()
            screen.customer_users()
            _refuse_values_that_do_not_fit(cursor)  # what no rule covers (the password hash)
            writer.customers()
            screen.customer_users_against_our_data()
            writer.customer_users()
            if "group" in staged:
                writer.groups()
            if "service" in staged:
                writer.services()
            if "preference" in staged:
                writer.preferences()
            if "user_customer" in staged:
                writer.user_customers()
            if "user_group" in staged and "group" in staged:
                writer.user_groups()
            if "customer_group" in staged and "group" in staged:
                writer.customer_groups()
            if "user_service" in staged and "service" in staged:
                writer.user_services()
            cursor.execute(f"DROP TABLE {', '.join(f'z_{stage.name}' for stage in stages)}")
            for model in (Customer, CustomerUser):  # searched at once: planned from the rows just written
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
            history.record(
                "migration.imported", "system", dsn.split("@")[-1], counts=dict(result.counts), by=MIGRATION
            )
            if dry_run:
                transaction.set_rollback(True)
    finally:
        source.close()
        if not dry_run:
            forget_customer_user_answers(*sources.aliases)  # like every customer-user write (R108)
    return result


def _stage(source: ReferenceDatabase, stage: Stage, cursor, progress: Progress | None) -> None:
    """The reference table into `z_<name>` (temporary, dropped at the end) by COPY."""
    types = ", ".join(f"{c} {'integer' if c in INTEGER_COLUMNS else 'text'}" for c in stage.columns)
    cursor.execute(f"CREATE TEMPORARY TABLE z_{stage.name} (n bigserial, {types}) ON COMMIT DROP")
    if progress is not None:
        progress.set_description(f"reading {stage.table}")
    copy_in = f"COPY z_{stage.name} ({', '.join(stage.columns)}) FROM STDIN"
    if source.connection.vendor == "postgresql":
        source.copy_out(
            stage.select(), lambda rows: cursor.cursor.copy_expert(copy_in, rows, size=1 << 16), progress
        )
    else:
        for batch in source.batches(stage.select()):
            buffer = io.StringIO("".join("\t".join(map(_copy_field, row)) + "\n" for row in batch))
            cursor.cursor.copy_expert(copy_in, buffer)
            if progress is not None:
                progress.update(len(batch))
    cursor.execute(f"ANALYZE z_{stage.name}")  # the joins below are planned from real row counts


class _Rows(io.RawIOBase):
    """The read end of the pipe a reference's COPY writes to, counting rows (lines) for the progress."""

    def __init__(self, fd: int, progress: Progress | None) -> None:
        self.pipe, self.progress = os.fdopen(fd, "rb", buffering=1 << 20), progress

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.pipe.read(size if size > 0 else 1 << 20)
        if self.progress is not None and data:
            self.progress.update(data.count(b"\n"))
        return data

    def close(self) -> None:
        self.pipe.close()
        super().close()


class _Screen:
    """The rules every path that writes applies, over the staged rows: a row they refuse is named and left
    out, never stops the import. Customers: customers.rules; customer users: the Map's rules of the source
    over our own table (backends.values, every value: a check added there reaches the migration), then, set-
    based, a customer that exists (the key rule, with CustomerCompanySupport), an e-mail address nobody else
    holds (CustomerUserEmailUniqCheck), and a login no other source holds (R20)."""

    def __init__(self, cursor, writer: _Writer) -> None:
        self.cursor, self.writer = cursor, writer
        self.source = next((s for s in sources.in_order() if s.reads_own_table), None)
        self.others = [s for s in sources.in_order() if not s.reads_own_table]

    def _leave_out(self, what: str, table: str, refused: list[tuple[int, str]]) -> None:
        """Name and count the refused staged rows `(n, label)`, and take them out of `table`."""
        if not refused:
            return
        self.cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS z_refused (n bigint, label text) ON COMMIT DROP"
        )
        self.cursor.execute("TRUNCATE z_refused")
        buffer = io.StringIO("".join(f"{n}\t{_copy_field(label)}\n" for n, label in refused))
        self.cursor.cursor.copy_expert("COPY z_refused (n, label) FROM STDIN", buffer)
        self.writer.skipped(what, "SELECT label FROM z_refused ORDER BY n")
        self.cursor.execute(f"DELETE FROM {table} WHERE n IN (SELECT n FROM z_refused)")

    def _rows(self, sql: str) -> Iterator[tuple]:
        """The staged rows of `sql`, streamed (a server-side cursor in the import's transaction)."""
        with connection.chunked_cursor() as rows:
            rows.execute(sql)
            while batch := rows.fetchmany(BATCH):
                yield from batch

    def customers(self) -> None:
        fields = CUSTOMER_COLUMNS[:-1]

        def check(row: tuple) -> str | None:
            _n, *values, valid_id = row
            customer = Customer(**{f: v or "" for f, v in zip(fields, values, strict=True)},
                                validity=valid_id or Validity.VALID)  # fmt: skip
            problems = customer_problems(customer)
            return _label("customer", customer.customer_id, problems) if problems else None

        sql = f"SELECT n, {', '.join(fields)}, valid_id FROM z_customer"
        self._leave_out("customers", "z_customer", _screened(self._rows(sql), check))

    def customer_users(self) -> None:
        if self.source is None:
            return
        rules = self.source.rules
        mapped = [(row.attribute, row.storage) for row in self.source.config.map_rows
                  if row.storage in USER_COLUMNS and not row.is_password]  # fmt: skip
        attributes = [attribute for attribute, _ in mapped]
        valid = "ValidID" in attributes

        def check(row: tuple) -> str | None:
            _n, login, *values = row
            record = {a: "" if v is None else v for a, v in zip(attributes, values, strict=True)}
            if valid:
                record["ValidID"] = record["ValidID"] or Validity.VALID  # unset means valid
            problems = rules.errors(record)
            return _label("customer user", login or "", problems) if problems else None

        sql = f"SELECT n, login, {', '.join(storage for _, storage in mapped)} FROM z_user"
        refused = _screened(self._rows(sql), check)
        if self.others:
            refused += self._held_by_other_sources()
        self._leave_out("customer users", "z_user", refused)

    def _held_by_other_sources(self) -> list[tuple[int, str]]:
        refused = []
        chunk: list[tuple[int, str]] = []

        def check() -> None:
            logins = [login for _, login in chunk]
            for source in self.others:
                held = source.get_many(logins)  # SourceUnavailable: nothing is imported, say which
                refused.extend((n, _label("customer user", login, {"UserLogin": [
                    f"the login is held by source {source.alias}"]})) for n, login in chunk
                    if login.casefold() in held)  # fmt: skip
            chunk.clear()

        for n, login in self._rows("SELECT n, login FROM z_user WHERE coalesce(login, '') <> ''"):
            chunk.append((n, login))
            if len(chunk) == 500:
                check()
        if chunk:
            check()
        return refused

    def customer_users_against_our_data(self) -> None:
        """After the customers are written: the customer exists, the e-mail address is free."""
        if self.source is None:
            return
        config = self.source.config
        if config.company_support:
            missing = (
                "FROM z_user z WHERE coalesce(z.customer_id, '') <> '' AND NOT EXISTS"
                " (SELECT 1 FROM customer_company c WHERE lower(c.customer_id) = lower(z.customer_id))"
            )
            self.writer.skipped(
                "customer users",
                "SELECT format('customer user %%L: UserCustomerID: there is no customer %%L', z.login,"
                f" z.customer_id) AS label {missing}",
            )
            self.cursor.execute(f"DELETE FROM z_user WHERE n IN (SELECT z.n {missing})")
        if config.email_unique_check:
            taken = (
                "SELECT z.n, z.login, z.email, coalesce(u.login, first_value(z.login) OVER w) AS holder,"
                " row_number() OVER w AS rank FROM z_user z LEFT JOIN customer_user u"
                " ON lower(u.email) = lower(z.email) AND lower(u.login) <> lower(z.login)"
                " WHERE coalesce(z.email, '') <> ''"
                " WINDOW w AS (PARTITION BY lower(z.email) ORDER BY z.login, z.n)"
            )
            clash = (
                f"SELECT n, login, email, holder FROM ({taken}) t"
                " WHERE rank > 1 OR lower(holder) <> lower(login)"
            )
            self.cursor.execute(f"CREATE TEMPORARY TABLE z_clash ON COMMIT DROP AS {clash}")  # one sort
            self.writer.skipped(
                "customer users",
                "SELECT format('customer user %%L: UserEmail: the e-mail address %%L is held by %%L', login,"
                " email, holder) AS label FROM z_clash ORDER BY n",
            )
            self.cursor.execute("DELETE FROM z_user WHERE n IN (SELECT n FROM z_clash)")
            self.cursor.execute("DROP TABLE z_clash")


def _refuse_values_that_do_not_fit(cursor) -> None:
    """A value longer than our column holds stops the import before anything is written, naming the row,
    the column and the value (the database would only say that some value was too long)."""
    for stage, model, key in (("customer", Customer, "customer_id"), ("user", CustomerUser, "login")):
        fields = {f.column: f.max_length for f in model._meta.concrete_fields if f.max_length}
        columns = [c for c in (CUSTOMER_COLUMNS if stage == "customer" else USER_COLUMNS) if c in fields]
        checks = " UNION ALL ".join(
            f"(SELECT {key}, %s, {column} FROM z_{stage} WHERE length({column}) > {fields[column]} LIMIT 1)"
            for column in columns
        )
        cursor.execute(f"{checks} LIMIT 1", columns)
        row = cursor.fetchone()
        if row is not None:
            which, column, value = row
            raise ValueError(
                f"{model._meta.db_table} {which!r}: {column} holds {len(value)} characters, at most"
                f" {fields[column]} fit here: {value[:60]!r}…"
            )


SCREEN_BATCH = 5000  # rows per task of a screening worker
_screening: Callable[[tuple], str | None] | None = None  # what the workers check (set before they fork)


def _screened(rows: Iterator[tuple], check: Callable[[tuple], str | None]) -> list[tuple[int, str]]:
    """`(n, label)` of every row `check` refuses. A large table is checked by a worker process per core
    (forked, so they share the rules and the language), while this process reads the next rows: the checks
    are Python, and a million rows would otherwise hold one core for a minute."""
    global _screening
    first = list(itertools.islice(rows, SCREEN_BATCH))
    if len(first) < SCREEN_BATCH or (os.cpu_count() or 1) < 2:
        return _screen_batch(first, check) + _screen_batch(list(rows), check)
    _screening = check
    refused: list[tuple[int, str]] = []
    pending: deque[Future] = deque()
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(os.cpu_count(), mp_context=context) as pool:
            batch = first
            while batch:
                pending.append(pool.submit(_screen_in_worker, batch))
                while len(pending) > 2 * (os.cpu_count() or 1):
                    refused += pending.popleft().result()
                batch = list(itertools.islice(rows, SCREEN_BATCH))
            while pending:
                refused += pending.popleft().result()
    finally:
        _screening = None
    return refused


def _screen_batch(rows: list[tuple], check: Callable[[tuple], str | None]) -> list[tuple[int, str]]:
    return [(row[0], label) for row in rows if (label := check(row)) is not None]


def _screen_in_worker(rows: list[tuple]) -> list[tuple[int, str]]:
    assert _screening is not None  # set by _screened before the workers fork
    return _screen_batch(rows, _screening)


def _label(kind: str, key: str, problems: dict[str, list[str]]) -> str:
    """What a skipped row's report line says: the row, and each attribute with its problems."""
    said = "; ".join(f"{attribute}: {' '.join(messages)}" for attribute, messages in problems.items())
    return f"{kind} {key!r}: {said}"


def _copy_field(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bytes):  # MySQL returns binary-collated text as bytes
        value = value.decode("utf-8", "replace")
    return str(value).replace("\x00", "").translate(COPY_ESCAPES)


def _text(column: str) -> str:
    return f"coalesce(z.{column}, '')"


VALIDITY = "CASE WHEN coalesce(z.valid_id, 0) = 0 THEN 1 ELSE z.valid_id END"  # unset means valid


class _Writer:
    """The set-based statements, from the staging tables into ours; each counts what it wrote."""

    def __init__(self, cursor, result: ZnunyImport, progress: Progress | None) -> None:
        self.cursor, self.result, self.progress = cursor, result, progress

    def _step(self, what: str) -> None:
        if self.progress is not None:
            self.progress.set_description(f"writing {what}")

    def _upsert(self, what: str, sql: str, params: tuple = ()) -> None:
        """Count `what` added and updated by an `INSERT … ON CONFLICT DO UPDATE … WHERE` changed."""
        self.cursor.execute(
            f"WITH written AS ({sql} RETURNING (xmax = 0) AS added)"
            " SELECT count(*) FILTER (WHERE added), count(*) FILTER (WHERE NOT added) FROM written",
            params,
        )
        added, updated = self.cursor.fetchone()
        self.result.add(f"{what} added", added)
        self.result.add(f"{what} updated", updated)

    def _insert_new(self, what: str, sql: str, params: tuple = ()) -> None:
        self.cursor.execute(sql, params)
        self.result.add(what, self.cursor.rowcount)

    def skipped(self, what: str, sql: str, params: tuple = ()) -> None:
        """Count the staged rows `sql` selects as not copied (a label each), and name the first few."""
        self.cursor.execute(f"SELECT count(*) OVER (), label FROM ({sql}) s LIMIT {EXAMPLES}", params)
        rows = self.cursor.fetchall()
        if rows:
            self.result.add(f"{what} skipped", rows[0][0])
            self.result.skipped += [label for _, label in rows]

    def customers(self) -> None:
        """One customer per ID, case-blind (the key rule; the reference's key is case-sensitive): the first
        by ID wins, the others are named, as logins are; a stored ID keeps its spelling."""
        self._step("customers")
        self._fold("customers", "z_customer", "customer_id", "customer %%L: the customer ID %%L came first")
        self._unchanged_since_last_run("customer", "z_customer", "lower(z.customer_id)", CUSTOMER_COLUMNS)
        columns = CUSTOMER_COLUMNS[1:-1]
        self._upsert(
            "customers",
            f"INSERT INTO customer_company AS c (customer_id, {', '.join(columns)}, valid_id, create_time,"
            f" change_time) SELECT z.customer_id, {', '.join(map(_text, columns))}, {VALIDITY}, now(), now()"
            " FROM z_customer z WHERE z.customer_id IS NOT NULL"
            f" ON CONFLICT ((lower(customer_id))) DO UPDATE SET {_set((*columns, 'valid_id'))},"
            f" change_time = now() WHERE {_differs('c', (*columns, 'valid_id'))}",
        )
        self._remember("customer", "z_customer", "lower(z.customer_id)", CUSTOMER_COLUMNS, folded=True)

    def _fold(self, what: str, table: str, key: str, label: str) -> None:
        """Name every staged row whose key another row holds in another case (the first by key, then by
        reading order, wins), and leave it out."""
        ranked = (
            f"SELECT n, {key}, first_value({key}) OVER w AS first, row_number() OVER w AS rank FROM {table}"
            f" WHERE coalesce({key}, '') <> '' WINDOW w AS (PARTITION BY lower({key}) ORDER BY {key}, n)"
        )
        self.cursor.execute(  # ranked once: a sort of the whole table
            "CREATE TEMPORARY TABLE z_twins ON COMMIT DROP AS"
            f" SELECT n, {key} AS key, first FROM ({ranked}) r WHERE rank > 1"
        )
        self.skipped(what, f"SELECT format('{label}', key, first) AS label FROM z_twins ORDER BY n")
        self.cursor.execute(f"DELETE FROM {table} WHERE n IN (SELECT n FROM z_twins)")
        self.cursor.execute("DROP TABLE z_twins")

    def _unchanged_since_last_run(self, kind: str, table: str, key: str, columns: tuple[str, ...]) -> None:
        """Leave out the staged rows the last run read with the same values: a re-run writes only what
        changed in the reference, never undoing what happened here since (MigratedRow)."""
        self.cursor.execute(
            f"DELETE FROM {table} z USING {MIGRATED} m WHERE m.kind = %s AND m.key = {key}"
            f" AND m.fingerprint = {_fingerprint(columns)}",
            (kind,),
        )

    def _remember(self, kind: str, table: str, key: str, columns: tuple[str, ...], *, folded: bool) -> None:
        """The fingerprint of every staged row, by its key: `folded` tables hold one row per key already;
        otherwise the last row read of a key is the one written, and remembered."""
        rows = (
            f"SELECT %s, {key}, {_fingerprint(columns)} FROM {table} z WHERE {key} <> '' ORDER BY {key}"
            if folded
            else f"SELECT DISTINCT ON ({key}) %s, {key}, {_fingerprint(columns)} FROM {table} z"
            f" WHERE {key} <> '' ORDER BY {key}, z.n DESC"
        )
        self.cursor.execute(
            f"INSERT INTO {MIGRATED} (kind, key, fingerprint) {rows}"
            " ON CONFLICT (kind, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint",
            (kind,),
        )

    def customer_users(self) -> None:
        """One row per login, case-blind (R55): the first by login wins, the others are named. A customer ID
        that names a customer in another case is written in the customer's spelling (the key rule)."""
        self._step("customer users")
        self._fold("customer users", "z_user", "login", "customer user %%L: the login %%L came first")
        self._unchanged_since_last_run("user", "z_user", "lower(z.login)", USER_COLUMNS)
        columns = USER_COLUMNS[:-1]
        kept = (*columns[1:], "valid_id")  # a stored login keeps its spelling (the key rule)
        values = ", ".join("coalesce(c.customer_id, z.customer_id, '')" if column == "customer_id"
                           else _text(column) for column in columns)  # fmt: skip
        self._upsert(
            "customer users",
            f"INSERT INTO customer_user AS u ({', '.join(columns)}, valid_id, extra_attributes, create_time,"
            f" change_time) SELECT {values}, {VALIDITY}, '{{}}', now(), now() FROM z_user z"
            " LEFT JOIN customer_company c ON lower(c.customer_id) = lower(z.customer_id)"
            " WHERE coalesce(z.login, '') <> ''"
            " ORDER BY lower(z.login)"  # in the order of the login index: its pages are filled one by one
            f" ON CONFLICT ((lower(login))) DO UPDATE SET {_set(kept)}, change_time = now()"
            f" WHERE {_differs('u', kept)}",
        )
        self._remember("user", "z_user", "lower(z.login)", USER_COLUMNS, folded=True)

    def _named(self, what: str, model, stage: str) -> None:
        """Groups and services by name: new names are added, existing ones left as they are."""
        self._step(what)
        table = model._meta.db_table
        self._insert_new(
            f"{what} added",
            f"INSERT INTO {table} (name, comments, valid_id, create_time, change_time)"
            f" SELECT DISTINCT ON (z.name) z.name, left({_text('comments')}, 250), {VALIDITY}, now(), now()"
            f" FROM z_{stage} z WHERE z.name IS NOT NULL ORDER BY z.name, z.n ON CONFLICT DO NOTHING",
        )

    def groups(self) -> None:
        self._named("groups", Group, "group")

    def services(self) -> None:
        self._named("services", Service, "service")

    def preferences(self) -> None:
        """Of each login's key the last row read wins; reserved keys (R136) and unknown logins are named."""
        self._step("preferences")
        reserved = sorted(RESERVED_ATTRIBUTES)
        self.skipped(
            "preferences",
            "SELECT format('preference %%L of %%L', z.preferences_key, z.user_id) AS label"
            " FROM z_preference z WHERE z.preferences_key = ANY(%s)"
            " OR NOT EXISTS (SELECT 1 FROM customer_user u WHERE lower(u.login) = lower(z.user_id))",
            (reserved,),
        )
        pref_key = "lower(z.user_id) || chr(31) || z.preferences_key"
        self._unchanged_since_last_run("preference", "z_preference", pref_key, ("preferences_value",))
        self._upsert(
            "preferences",
            "INSERT INTO customer_preferences AS p (login, key, value)"
            " SELECT DISTINCT ON (u.login, z.preferences_key) u.login, z.preferences_key,"
            " left(coalesce(z.preferences_value, ''), 250) FROM z_preference z"
            " JOIN customer_user u ON lower(u.login) = lower(z.user_id)"
            " WHERE z.preferences_key <> ALL(%s) ORDER BY u.login, z.preferences_key, z.n DESC"
            " ON CONFLICT (login, key) DO UPDATE SET value = EXCLUDED.value WHERE p.value <> EXCLUDED.value",
            (reserved,),
        )
        self._remember("preference", "z_preference", pref_key, ("preferences_value",), folded=False)

    def user_customers(self) -> None:
        self._step("customer users' customers")
        self._insert_new(
            "customer user ↔ customer added",
            "INSERT INTO customer_user_customer (login, customer_id, create_time)"
            " SELECT DISTINCT u.login, c.customer_id, now() FROM z_user_customer z"
            " JOIN customer_user u ON lower(u.login) = lower(z.user_id)"
            " JOIN customer_company c ON lower(c.customer_id) = lower(z.customer_id) ON CONFLICT DO NOTHING",
        )

    def user_groups(self) -> None:
        self._step("customer users' groups")
        self._insert_new(
            "customer user ↔ group added",
            f"INSERT INTO group_customer_user (login, group_id, permission_key, create_time)"
            f" SELECT DISTINCT u.login, g.id, z.permission_key, now() FROM z_user_group z"
            f" JOIN z_group zg ON zg.id = z.group_id"
            f" JOIN {Group._meta.db_table} g ON lower(g.name) = lower(zg.name)"
            f" JOIN customer_user u ON lower(u.login) = lower(z.user_id) ON CONFLICT DO NOTHING",
        )

    def customer_groups(self) -> None:
        self._step("customers' groups")
        self._insert_new(
            "customer ↔ group added",
            f"INSERT INTO group_customer (customer_id, group_id, permission_key, permission_context,"
            f" create_time) SELECT DISTINCT c.customer_id, g.id, z.permission_key, z.permission_context,"
            f" now()"
            f" FROM z_customer_group z JOIN z_group zg ON zg.id = z.group_id"
            f" JOIN {Group._meta.db_table} g ON lower(g.name) = lower(zg.name)"
            f" JOIN customer_company c ON lower(c.customer_id) = lower(z.customer_id) ON CONFLICT DO NOTHING",
        )

    def user_services(self) -> None:
        """Services of customer users, and the `<DEFAULT>` pseudo-login's as default services (R130)."""
        self._step("customer users' services")
        services = Service._meta.db_table
        self._insert_new(
            "customer user ↔ service added",
            f"INSERT INTO service_customer_user (login, service_id, create_time)"
            f" SELECT DISTINCT u.login, s.id, now() FROM z_user_service z"
            f" JOIN z_service zs ON zs.id = z.service_id"
            f" JOIN {services} s ON lower(s.name) = lower(zs.name)"
            f" JOIN customer_user u ON lower(u.login) = lower(z.customer_user_login) ON CONFLICT DO NOTHING",
        )
        self._insert_new(
            "default services added",
            f"INSERT INTO {DefaultService._meta.db_table} (service_id, created_at)"
            f" SELECT DISTINCT s.id, now() FROM z_user_service z"
            f" JOIN z_service zs ON zs.id = z.service_id"
            f" JOIN {services} s ON lower(s.name) = lower(zs.name)"
            f" WHERE z.customer_user_login = '<DEFAULT>' ON CONFLICT DO NOTHING",
        )


def _fingerprint(columns: tuple[str, ...]) -> str:
    """A staged row's values as one md5 (of its text form, NULLs apart from empty text)."""
    return f"md5(row({', '.join(f'z.{c}' for c in columns)})::text)"


def _set(columns: tuple[str, ...]) -> str:
    return ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)


def _differs(alias: str, columns: tuple[str, ...]) -> str:
    """Some column differs: rows whose values are all equal are not written again."""
    mine = ", ".join(f"{alias}.{c}" for c in columns)
    theirs = ", ".join(f"EXCLUDED.{c}" for c in columns)
    return f"({mine}) IS DISTINCT FROM ({theirs})"
