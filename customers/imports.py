"""Bulk import of customers and customer users from CSV or JSON lines: streaming, in batches, resumable.

Rows are read one at a time and validated in batches (every field, then the database: duplicates, unknown
customers, taken e-mails). Valid rows of a batch are written in one transaction; a row with an error is
not written and goes to the error report (line, field, value, reason) next to the input. With each
committed batch the line reached is written to a progress file next to the input (see `Progress`), so an
import stopped half-way (crash, Ctrl-C, SIGKILL, a lost database) leaves no partial batch behind, and
`--resume` carries on after the last committed batch and keeps the report of the whole file.
`--dry-run` validates everything and writes nothing but the report.
A CSV header that no row could fit (unknown or repeated names, required ones missing) is refused
before any row is read, with one error instead of the same errors for every row.

On PostgreSQL, outside a transaction, batches are written by two writer threads, each on its own
connection, while the next batch is validated: the database and Python work at the same time, and batches
still commit one after another, in file order. The main thread also screens each batch's e-mails against
the table, and its logins and e-mails against the batches in flight; a writer copies the batch as it is
and lets the unique index on logins find a taken one, and only then checks the batch row by row.

Passwords are imported only as hashes (Django's, or the reference's formats of R88, which are replaced
at the first login): hashing a million clear passwords is neither fast nor something a file should carry.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import DatabaseError, IntegrityError, connections, transaction
from django.utils import timezone

from backends.config import SourceConfig
from backends.errors import SourceUnavailable, login_taken_message
from backends.hashers import as_django_encoded
from backends.registry import SourceHandler, sources
from backends.values import MapRules, email_problem, validity_problem
from core.generations import forget_customer_user_answers
from core.history import record_import
from core.lookups import fold
from customers.models import COMPANY_ATTRIBUTES, Customer, CustomerUser, Validity
from customers.rules import (
    customer_id_taken_problem,
    customer_name_taken_problem,
    customer_problems,
    email_domain_taken_problem,
    no_customer_problem,
    stored_customer_ids,
    taken_customer_names,
    taken_email_domains,
)

BATCH_SIZE = 5000
WRITERS = 2  # batches written at the same time; see BatchWriter
WRITER_SWITCH_INTERVAL = 0.0001  # seconds; see BatchWriter
CLEAR_PASSWORD = (
    "UserPassword must be a password hash (Django's or the reference's formats), not a clear password."
)


@dataclass
class RowError:
    line: int
    field: str
    value: str
    reason: str


@dataclass
class ImportResult:
    """What one run did (`read`, `written`, `error_rows`), and the rows of the whole file, across resumed
    runs, that the report lists (`report_rows`)."""

    read: int = 0
    written: int = 0
    error_rows: int = 0
    report_rows: int = 0
    resumed_after: int = 0
    dry_run: bool = False


Line = tuple[int, tuple[str, ...], Sequence[Any]]  # line number, attribute names, their values


def file_format(path: Path, fmt: str | None = None) -> str:
    """`csv` or `jsonl`: the one asked for, else by the file name (CSV unless it says JSON)."""
    return fmt or ("jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv")


def csv_header(path: Path) -> tuple[str, ...]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return tuple(next(csv.reader(handle), []))


def read_rows(
    path: Path, fmt: str | None = None
) -> Iterator[tuple[int, tuple[str, ...], Sequence[Any], str]]:
    """(line, attribute names, their values, problem) for every data line of a CSV (header first) or
    JSON-lines file; a line that cannot be read has a problem and no names. The rows of a CSV file share
    one tuple of names, so what depends on the names alone is worked out once."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if file_format(path, fmt) == "csv":
            reader = csv.reader(handle)
            header = tuple(next(reader, []))
            width = len(header)
            for values in reader:
                if len(values) == width:
                    yield reader.line_num, header, values, ""
                elif len(values) > width:
                    yield reader.line_num, (), (), f"has {len(values)} columns; the header has {width}"
                elif values:  # short rows leave the missing columns empty
                    yield reader.line_num, header[: len(values)], values, ""
        else:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield number, (), (), f"is not JSON ({exc.msg} at column {exc.colno})"
                    continue
                if not isinstance(row, dict):
                    yield number, (), (), "is not a JSON object"
                    continue
                yield number, tuple(row), tuple(row.values()), ""


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


class Importer:
    """One import run; subclasses say how a row becomes a model instance."""

    model: type
    kind: str

    def __init__(
        self,
        path: Path,
        *,
        fmt: str | None = None,
        dry_run: bool = False,
        resume: bool = False,
        batch_size: int = BATCH_SIZE,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.fmt = fmt
        self.dry_run = dry_run
        self.resume = resume
        self.batch_size = batch_size
        self.progress = progress or (lambda n: None)
        self.progress_path = self.path.with_name(self.path.name + ".progress")
        self.report_path = self.path.with_name(self.path.name + ".errors.csv")

    # -------------------------------------------------------------------------------------- run
    def run(self) -> ImportResult:
        """Raises HeaderRejected, before reading a row, when a CSV header cannot fit."""
        if file_format(self.path, self.fmt) == "csv":
            problems = self.header_problems(csv_header(self.path))
            if problems:
                raise HeaderRejected(problems)
        result = ImportResult(dry_run=self.dry_run)
        with Progress(self, result) as self.recorder, BatchWriter(self) as self.writer:
            start_after = result.resumed_after
            batch: list[Line] = []
            unreadable: list[RowError] = []
            first_line = 0
            for line, names, values, problem in read_rows(self.path, self.fmt):
                if line <= start_after:
                    continue
                result.read += 1
                first_line = first_line or line
                if problem:
                    unreadable.append(RowError(line, "", "", f"Line {line} {problem}."))
                else:
                    batch.append((line, names, values))
                if len(batch) + len(unreadable) >= self.batch_size:
                    self._batch(batch, unreadable, first_line, line)
                    batch, unreadable, first_line = [], [], 0
            if first_line:
                self._batch(batch, unreadable, first_line, line)
        if not self.dry_run and result.written:
            self._analyze()
        return result

    def _analyze(self) -> None:
        """Fresh planner statistics after a bulk load, so searches use their indexes at once."""
        connection = transaction.get_connection()
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(self.model._meta.db_table)}")

    def _batch(self, batch: list[Line], unreadable: list[RowError], first_line: int, last_line: int) -> None:
        """Validate lines `first_line`–`last_line` and hand them on; `unreadable` are the errors of the
        lines among them that could not be read."""
        rows, errors = self.validate(batch) if batch else ([], [])
        errors = unreadable + errors
        rows = self.prepare(rows) if rows else rows
        if self.dry_run:
            errors += self.against_database(rows)[1] if rows else []
            batch_checked = Batch(first_line, last_line, [], errors)
            self.recorder.record(batch_checked, [], [])
            self.recorder.committed(batch_checked)
        else:
            if self.writer.pipelined and rows:
                rows, more = self.screen(rows)
                errors += more
            self.writer.submit(Batch(first_line, last_line, rows, errors, screened=self.writer.pipelined))
        self.progress(len(batch) + len(unreadable))

    def header_problems(self, names: tuple[str, ...]) -> list[tuple[str, str]]:
        """(attribute, reason) for what is wrong with these attribute names whatever the values: unknown
        or repeated names, required ones missing."""
        raise NotImplementedError

    def validate(self, batch: list[Line]) -> tuple[list, list[RowError]]:
        """Every check that needs no database: the rows that pass, and the errors of the others."""
        raise NotImplementedError

    def against_database(self, rows: list) -> tuple[list, list[RowError]]:
        """The checks against the table (taken keys), run in the transaction that writes the rows."""
        raise NotImplementedError

    def prepare(self, rows: list) -> list:
        """What `write` needs for these rows, built before the batch is handed to the writer."""
        return rows

    def screen(self, rows: list) -> tuple[list, list[RowError]]:
        """Checks against the table that the main thread can run while the writer writes the batch
        before (pipelined runs only): what it takes off `store`, the writer no longer has to do."""
        return rows, []

    def store(self, rows: list, *, screened: bool) -> tuple[list, list[RowError]]:
        """Check and write prepared rows inside the batch's transaction: the rows written, and the
        errors of the others."""
        rows, errors = self.against_database(rows) if rows else (rows, [])
        if rows:
            self.write(rows)
        return rows, errors

    def key(self, row: Any) -> str:
        """The unique key of a prepared row, as it is stored."""
        raise NotImplementedError

    def was_written(self, key: str) -> bool:
        """Whether the table holds a row with this key (of a batch whose commit is in doubt)."""
        raise NotImplementedError

    def commit(self, batch: Batch, after: Future | None = None) -> None:
        """Check, write and record one batch in one transaction, on the calling thread's connection; with
        `after`, the commit of the batch before it, commit only once that has committed (roll back if it
        failed)."""
        try:
            try:
                with transaction.atomic():
                    written, errors = self.store(batch.rows, screened=batch.screened)
                    if after is not None and after.exception() is not None:
                        lines = f"{batch.first_line}–{batch.last_line}"
                        raise ImportStopped(f"lines {lines} were not written: an earlier batch failed")
                    self.recorder.record(batch, written, errors)
            except BaseException:
                self.recorder.abandoned(batch)
                raise
            self.recorder.committed(batch)
        except IntegrityError as exc:  # a concurrent writer took a key: the whole batch is left out
            raise ImportStopped(
                f"lines {batch.first_line}–{batch.last_line} were not written: {exc}".strip()
            ) from exc
        except DatabaseError as exc:
            raise ImportStopped(
                f"the database failed at lines {batch.first_line}–{batch.last_line}: {exc}"
            ) from exc

    def write(self, rows: list) -> None:
        self.model.objects.bulk_create([instance for _, instance in rows], batch_size=1000)


class Progress:
    """The progress file and the error report of one input file, both kept across resumed runs.

    The progress file holds the last line committed and the totals so far. It is replaced atomically
    (written, flushed, fsynced, renamed), so a kill leaves the old one or the new one, never a torn one.
    A batch is recorded in two steps around its commit: inside its transaction, its errors are appended to
    the report (fsynced) and the progress file names the batch as pending, with the key of one row it
    wrote; after the commit, the file names it as committed. A run killed between the two steps finds that
    row in the table or not, so `--resume` starts right after the last committed batch, and cuts the report
    back to what the committed batches found: every row of the file is then reported once, or written once.
    A dry run keeps no progress file and starts a new report.
    """

    FIELDS = ("line", "written", "error_rows", "report_bytes")
    HEADER = "line,field,value,reason\r\n"

    def __init__(self, importer: Importer, result: ImportResult) -> None:
        self.importer = importer
        self.result = result
        self.path = importer.progress_path
        self.report_path = importer.report_path
        self.state = dict.fromkeys(self.FIELDS, 0)
        self.report: io.TextIOWrapper | None = None
        self.pending: tuple[Batch, dict[str, int], int, int] | None = None
        self.lock = threading.Lock()

    def __enter__(self) -> Progress:
        if self.importer.dry_run or not self.importer.resume:
            self.path.unlink(missing_ok=True)
            self.report_path.unlink(missing_ok=True)
            return self
        self.state = self._committed_state()
        self.result.resumed_after = self.state["line"]
        self.result.report_rows = self.state["error_rows"]
        if self.state["report_bytes"] and self.report_path.exists():
            self.report = self.report_path.open("a", encoding="utf-8", newline="")
            self.report.truncate(self.state["report_bytes"])  # errors of a batch that did not commit
        else:
            self.report_path.unlink(missing_ok=True)
            self.state["report_bytes"] = 0
        return self

    def _committed_state(self) -> dict[str, int]:
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            state = {name: int(saved[name]) for name in self.FIELDS}
            pending = saved.get("pending")
            if pending is not None:
                pending = {name: int(pending[name]) for name in self.FIELDS} | {"key": pending["key"]}
        except FileNotFoundError:
            return dict.fromkeys(self.FIELDS, 0)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ProgressUnreadable(f"{self.path} cannot be read ({exc})") from exc
        if pending is not None and pending["key"] is not None and self.importer.was_written(pending["key"]):
            return {name: pending[name] for name in self.FIELDS}
        return state

    def record(self, batch: Batch, written: list, errors: list[RowError]) -> None:
        """Before the batch's commit: its errors into the report, and the batch as pending."""
        errors = batch.errors + errors
        errors.sort(key=lambda error: error.line)
        with self.lock:
            report_bytes = self.state["report_bytes"]
            if errors:
                if self.report is None:
                    self.report = self.report_path.open("w", encoding="utf-8", newline="")
                    self.report.write(self.HEADER)
                report = csv.writer(self.report)
                for error in errors:
                    report.writerow([error.line, error.field, error.value[:200], error.reason])
                self.report.flush()
                os.fsync(self.report.fileno())
                report_bytes = self.report.tell()
            error_rows = len({error.line for error in errors})
            after = {
                "line": batch.last_line,
                "written": self.state["written"] + len(written),
                "error_rows": self.state["error_rows"] + error_rows,
                "report_bytes": report_bytes,
            }
            self.pending = (batch, after, len(written), error_rows)
            if written:
                self._save(self.state | {"pending": after | {"key": self.importer.key(written[0])}})

    def committed(self, batch: Batch) -> None:
        with self.lock:
            if self.pending is None or self.pending[0] is not batch:
                return
            _, self.state, written, error_rows = self.pending
            self.pending = None
            self.result.written += written
            self.result.error_rows += error_rows
            self.result.report_rows = self.state["error_rows"]
            self._save(self.state)

    def abandoned(self, batch: Batch) -> None:
        """The batch did not commit: its errors leave the report, and the progress file forgets it."""
        with self.lock:
            if self.pending is None or self.pending[0] is not batch:
                return
            self.pending = None
            if self.report is not None:
                self.report.truncate(self.state["report_bytes"])
            self._save(self.state)

    def _save(self, state: dict) -> None:
        if self.importer.dry_run:
            return
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self.report is not None:
            self.report.close()
        if exc_type is None:
            if not self.importer.dry_run:
                self.path.unlink(missing_ok=True)  # finished: nothing to resume
            if not self.result.report_rows:
                self.report_path.unlink(missing_ok=True)


class HeaderRejected(Exception):
    """A CSV header that no row could fit: the import reads no row and writes nothing."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__(" ".join(reason for _, reason in problems))
        self.problems = problems


class ImportStopped(Exception):
    """The import stopped between batches; what was committed stays, `--resume` continues after it."""


class ProgressUnreadable(Exception):
    """`--resume` found a progress file that is not one this command wrote."""


@dataclass
class Batch:
    first_line: int
    last_line: int
    rows: list  # what `prepare` made of the rows that passed validation
    errors: list[RowError]  # of the other lines, found before the batch is written
    screened: bool = False  # whether `screen` has run on the rows


class BatchWriter:
    """Commits batches in file order (each records itself: see `Importer.commit` and `Progress`).

    Inline, in the caller's connection and transaction; or, on PostgreSQL outside a transaction, in
    WRITERS writer threads, each on its own connection, taking batches in turn: batches N and N+1 are
    written at the same time while N+2 is validated, and N+1 commits only after N has (rows written, it
    waits for that commit inside its transaction). The importer's `screen` keeps the logins and e-mails
    of the batches in flight apart, so neither waits on the other's rows and each batch's checks see every
    batch before it.
    """

    def __init__(self, importer: Importer) -> None:
        self.importer = importer
        connection = transaction.get_connection()
        pipelined = (
            not importer.dry_run and connection.vendor == "postgresql" and not connection.in_atomic_block
        )
        self.writers = [
            ThreadPoolExecutor(1, thread_name_prefix=f"import-writer-{number}") for number in range(WRITERS)
        ] if pipelined else []  # fmt: skip
        self.submitted = 0
        self.in_flight: deque[tuple[Batch, Future]] = deque()
        self._switch_interval = sys.getswitchinterval()

    @property
    def pipelined(self) -> bool:
        return bool(self.writers)

    def __enter__(self) -> BatchWriter:
        if self.pipelined:
            # After each database call a writer needs the GIL back, which the main thread, busy
            # validating, hands over only every switch interval: 5 ms by default, idling the writers
            # (the import's bottleneck) a few times per batch.
            sys.setswitchinterval(WRITER_SWITCH_INTERVAL)
        return self

    def submit(self, batch: Batch) -> None:
        if not self.writers:
            self.importer.commit(batch)
            return
        while len(self.in_flight) >= len(self.writers):
            self._settle()
        writer = self.writers[self.submitted % len(self.writers)]
        self.submitted += 1
        before = self.in_flight[-1][1] if self.in_flight else None
        self.in_flight.append((batch, writer.submit(self.importer.commit, batch, before)))

    def wait(self) -> None:
        """Until every batch in flight is committed; the first failure is raised here."""
        while self.in_flight:
            self._settle()

    def _settle(self) -> None:
        _, future = self.in_flight.popleft()
        future.result()

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            self.wait()
        finally:
            for _, future in self.in_flight:  # after a failure: the batches behind it roll back
                future.exception()
            self.in_flight.clear()
            for writer in self.writers:
                writer.submit(connections.close_all).result()  # the writer thread's connection
                writer.shutdown()
            if self.writers:
                sys.setswitchinterval(self._switch_interval)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _repeated_names(names: tuple[str, ...]) -> list[tuple[str, str]]:
    return [
        (name, f"{name} is a column of the file twice.")
        for name in sorted(set(names))
        if names.count(name) > 1
    ]


def _missing_columns(missing: dict[str, str]) -> list[tuple[str, str]]:
    """One header problem naming every required attribute (and its label) the header lacks."""
    if not missing:
        return []
    named = [f"{a} ({label})" if label and label != a else a for a, label in missing.items()]
    return [(next(iter(missing)), f"The header lacks required columns: {', '.join(named)}.")]


def _valid_id(errors: list[RowError], line: int, value: Any) -> int:
    text = _text(value) or "1"
    problem = validity_problem(text)
    if problem:
        errors.append(RowError(line, "ValidID", text, problem))
        return Validity.VALID
    return int(text)


# ------------------------------------------------------------------------------------- customers
CUSTOMER_COLUMNS = COMPANY_ATTRIBUTES
CUSTOMER_NAMES = {column: name for name, column in COMPANY_ATTRIBUTES.items()} | {"validity": "ValidID"}
REQUIRED_CUSTOMER_FIELDS = {"CustomerID": "customer_id", "CustomerCompanyName": "name"}


class CustomerImporter(Importer):
    model = Customer
    kind = "customers"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen_ids: set[str] = set()
        self.seen_names: set[str] = set()
        self.seen_domains: set[str] = set()
        self._names_checked: dict[tuple[str, ...], list[tuple[str, str]]] = {}

    def write(self, rows: list) -> None:
        super().write(rows)
        record_import(
            "customers.imported", Path(self.path).name, [c.customer_id for _, c in rows],
            lines=[rows[0][0], rows[-1][0]] if rows else [],
        )  # fmt: skip

    def header_problems(self, names):
        missing = {name: name for name in REQUIRED_CUSTOMER_FIELDS if name not in names}
        return self._name_problems(names) + _missing_columns(missing)

    def _name_problems(self, names: tuple[str, ...]) -> list[tuple[str, str]]:
        """Unknown and repeated names, worked out once per set of names."""
        if names not in self._names_checked:
            known = ", ".join([*CUSTOMER_COLUMNS, "ValidID"])
            self._names_checked[names] = [
                (name, f"{name} is not a customer field; known: {known}.")
                for name in sorted(set(names) - set(CUSTOMER_COLUMNS) - {"ValidID"})
            ] + _repeated_names(names)
        return self._names_checked[names]

    def validate(self, batch):
        """The rules of customers.rules, as the services apply them, and IDs (by the key rule) and names
        (as written, R154) that appear twice in the file."""
        errors: list[RowError] = []
        candidates = []
        for line, names, raw in batch:
            row = dict(zip(names, raw, strict=True))
            row_errors = [RowError(line, name, "", reason) for name, reason in self._name_problems(names)]
            values = {column: _text(row.get(name)) for name, column in CUSTOMER_COLUMNS.items()}
            validity = _valid_id(row_errors, line, row.get("ValidID"))
            customer = Customer(**values, validity=validity)
            for column, problems in customer_problems(customer).items():
                name = CUSTOMER_NAMES.get(column, column)
                row_errors += [RowError(line, name, values.get(column, ""), problem) for problem in problems]
            key, name_key = fold(values["customer_id"]), values["name"]
            if key in self.seen_ids:
                row_errors.append(
                    RowError(
                        line, "CustomerID", values["customer_id"], "CustomerID appears twice in the file."
                    )
                )
            if name_key in self.seen_names:
                row_errors.append(
                    RowError(
                        line,
                        "CustomerCompanyName",
                        values["name"],
                        "CustomerCompanyName appears twice in the file.",
                    )
                )
            row_errors += [
                RowError(line, "CustomerEmailDomains", domain, "The e-mail domain appears twice in the file.")
                for domain in customer.email_domains.split()
                if domain in self.seen_domains
            ]
            if row_errors:
                errors.extend(row_errors)
                continue
            self.seen_ids.add(key)
            self.seen_names.add(name_key)
            self.seen_domains.update(customer.email_domains.split())
            candidates.append((line, customer))
        return candidates, errors

    def against_database(self, candidates):
        """IDs taken whatever their case (a reported row, never a stopped batch), names taken as written."""
        errors: list[RowError] = []
        taken_ids = stored_customer_ids(c.customer_id for _, c in candidates)
        taken_names = taken_customer_names(c.name for _, c in candidates)
        taken_domains = taken_email_domains(d for _, c in candidates for d in c.email_domains.split())
        rows = []
        for line, customer in candidates:
            taken = taken_ids.get(fold(customer.customer_id))
            held = [d for d in customer.email_domains.split() if d in taken_domains]
            if taken is not None:
                problem = customer_id_taken_problem(customer.customer_id, taken)
                errors.append(RowError(line, "CustomerID", customer.customer_id, problem))
            elif customer.name in taken_names:
                errors.append(
                    RowError(line, "CustomerCompanyName", customer.name, customer_name_taken_problem())
                )
            elif held:
                problem = email_domain_taken_problem(held[0], taken_domains[held[0]])
                errors.append(RowError(line, "CustomerEmailDomains", held[0], problem))
            else:
                rows.append((line, customer))
        return rows, errors

    def key(self, row):
        return row[1].customer_id

    def was_written(self, key):
        return Customer.objects.filter(customer_id=key).exists()


# -------------------------------------------------------------------------------- customer users
class CustomerUserImporter(Importer):
    """Customer users into our own table, through the Map of the source that reads it."""

    model = CustomerUser
    kind = "customer users"

    def __init__(
        self, *args: Any, config: SourceConfig, registry: SourceHandler = sources, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.config = config
        # The sources whose logins this one may not take (R20): every other, read through its own reads.
        self.other_sources = [
            registry[alias]
            for alias in registry.aliases
            if alias != config.alias and not registry[alias].reads_own_table
        ]  # our own table is checked by the importer itself
        fields = {f.column: f for f in CustomerUser._meta.concrete_fields if not f.generated}
        # One step per Map row, decided once: (attribute, label, kind, target, max length, required).
        self.plan: list[tuple[str, str, str, str, int, bool]] = []
        for row in config.map_rows:
            if row.is_dynamic_field:
                continue
            field_ = fields.get(row.storage)
            if row.is_password:
                self.plan.append((row.attribute, row.label, "password", "password", 128, False))
            elif row.attribute == "ValidID":
                self.plan.append((row.attribute, row.label, "valid", "validity", 1, False))
            elif field_ is not None and field_.column != "extra_attributes":
                maximum = field_.max_length or 1000
                self.plan.append((row.attribute, row.label, "column", field_.attname, maximum, row.required))
            else:
                self.plan.append((row.attribute, row.label, "extra", row.storage, 1000, row.required))
        self.known = {step[0] for step in self.plan}
        sizes = {attribute: maximum for attribute, _, _, _, maximum, _ in self.plan}
        self.rules = MapRules(config, lambda row: sizes.get(row.attribute)).by_attribute  # the messages too
        self._layouts: dict[tuple[str, ...], tuple] = {}
        # A dry run commits nothing: it remembers every key of the file to find those that appear twice.
        # A real run finds them in the table, where each batch is checked when it is written.
        self.seen_logins: set[str] = set()
        self.seen_emails: set[str] = set()
        # Pipelined: the lower-cased logins and e-mails of the batches the writers may not have committed.
        self.in_flight_keys: deque[tuple[set[str], set[str]]] = deque(maxlen=WRITERS)
        # Every customer by the key rule → its stored spelling, which a row's customer ID is written in.
        self.customers = (
            {fold(c): c for c in Customer.objects.values_list("customer_id", flat=True).iterator()}
            if config.company_support
            else None
        )
        self.now = timezone.now()  # rows added since then come from this file
        self.columns = [
            f for f in CustomerUser._meta.concrete_fields
            if not f.generated and f.attname not in ("id", "created_by_id", "changed_by_id")
        ]  # fmt: skip
        self.position = {f.attname: index for index, f in enumerate(self.columns)}
        # A row is a list of the columns' values as COPY text, started from the defaults.
        self.template = [_copy_text(f.get_default()) for f in self.columns]
        for name in ("created_at", "changed_at"):
            self.template[self.position[name]] = self.now.isoformat()
        self.copy = transaction.get_connection().vendor == "postgresql"

    def run(self) -> ImportResult:
        """The import, ending like every customer-user write: cached reads and answers are forgotten."""
        try:
            return super().run()
        finally:
            if not self.dry_run:
                forget_customer_user_answers(self.config.alias)

    def header_problems(self, names):
        problems, _, _, missing = self._layout(names)
        return [problem for problem in problems if problem[0] not in missing] + _missing_columns(missing)

    def _layout(self, names: tuple[str, ...]) -> tuple:
        """What the plan does with a row that has these attributes, worked out once per set of names:
        (the problems every such row has, the steps for the present attributes, the extra attributes of a
        row before its values or None when the Map has none, the required attributes missing and their
        labels). The first Map row that stores into a target sets its value (R12 order)."""
        layout = self._layouts.get(names)
        if layout is not None:
            return layout
        problems = [
            (name, f"{name} is not an attribute of the Map of {self.config.alias}.")
            for name in sorted(set(names) - self.known)
        ]
        problems += _repeated_names(names)
        steps, extra, targets, missing = [], {}, set(), {}
        for attribute, label, kind, target, maximum, required in self.plan:
            sets = target not in targets
            targets.add(target)
            where = target if kind == "extra" else self.position[target]
            if attribute in names:
                steps.append((names.index(attribute), attribute, kind, where, maximum, sets))
            elif kind in ("column", "extra"):
                if required:
                    problems.append((attribute, self.rules[attribute].problem("")))
                    missing[attribute] = label
                elif sets and kind == "extra":
                    extra[target] = ""
        has_extra = any(kind == "extra" for _, _, kind, *_ in self.plan)
        layout = self._layouts[names] = (problems, steps, extra if has_extra else None, missing)
        return layout

    def validate(self, batch):
        errors: list[RowError] = []
        candidates: list[tuple[int, list[str]]] = []
        batch_logins: set[str] = set()
        batch_emails: set[str] = set()
        earlier_logins, earlier_emails = self.seen_logins, self.seen_emails
        check_emails = self.config.email_unique_check
        customers, template, rules = self.customers, self.template, self.rules
        login_at, email_at, customer_at, valid_at, extra_at = (
            self.position[name] for name in ("login", "email", "customer_id", "validity", "extra_attributes")
        )
        for line, names, raw in batch:
            problems, steps, base_extra, _ = self._layout(names)
            row_errors = [RowError(line, name, "", reason) for name, reason in problems]
            values = template.copy()
            extra = None if base_extra is None else base_extra.copy()
            for position, attribute, kind, target, _maximum, sets in steps:
                value = raw[position]
                value = value.strip() if value.__class__ is str else _text(value)
                if kind == "column" or kind == "extra":
                    problem = rules[attribute].problem(value)  # every value, every rule (backends.values)
                    if problem:
                        row_errors.append(RowError(line, attribute, value, problem))
                        continue
                    if sets:
                        if kind == "column":
                            values[target] = value
                        else:
                            extra[target] = value
                elif kind == "valid":
                    values[target] = str(_valid_id(row_errors, line, value))
                elif value:  # a password hash
                    if as_django_encoded(value) is None:
                        row_errors.append(RowError(line, "UserPassword", "(hidden)", CLEAR_PASSWORD))
                    values[target] = value
            login, email = values[login_at], values[email_at]
            problem = email_problem(email) if email and values[valid_at] == "1" else None
            if problem:
                row_errors.append(RowError(line, "UserEmail", email, problem))
            login_key, email_key = login.casefold(), email.casefold()
            if login_key in batch_logins or login_key in earlier_logins:
                row_errors.append(RowError(line, "UserLogin", login, "UserLogin appears twice in the file."))
            if check_emails and email and (email_key in batch_emails or email_key in earlier_emails):
                row_errors.append(RowError(line, "UserEmail", email, "UserEmail appears twice in the file."))
            customer_id = values[customer_at]
            if customers is not None and customer_id:
                stored = customers.get(fold(customer_id))
                if stored is None:
                    row_errors.append(
                        RowError(line, "UserCustomerID", customer_id, no_customer_problem(customer_id))
                    )
                else:
                    values[customer_at] = stored
            if row_errors:
                errors.extend(row_errors)
                continue
            batch_logins.add(login_key)
            if email:
                batch_emails.add(email_key)
            if extra:
                values[extra_at] = json.dumps(extra, ensure_ascii=False)
            candidates.append((line, values))
        if self.dry_run:
            self.seen_logins |= batch_logins
            self.seen_emails |= batch_emails
        if self.other_sources and candidates:
            candidates, more = self._free_in_other_sources(candidates)
            errors += more
        return candidates, errors

    def _free_in_other_sources(self, candidates: list[tuple[int, list[str]]]):
        """R20, as `create_customer_user` refuses it: a login another source holds is a reported row (every
        read would shadow it). A source that cannot answer stops the import; `--resume` carries on."""
        login_at = self.position["login"]
        logins = [values[login_at] for _, values in candidates]
        taken: dict[str, str] = {}
        for source in self.other_sources:
            try:
                found = source.get_many(logins)
            except SourceUnavailable as exc:
                raise ImportStopped(f"cannot tell whether the logins are free: {exc}") from exc
            for key in found:
                taken.setdefault(key, source.alias)
        if not taken:
            return candidates, []
        kept, errors = [], []
        for line, values in candidates:
            login = values[login_at]
            if login.casefold() in taken:
                errors.append(RowError(line, "UserLogin", login, login_taken_message(login)))
            else:
                kept.append((line, values))
        return kept, errors

    def prepare(self, rows: list[tuple[int, list[str]]]) -> list[tuple[int, str, str, Any]]:
        """(line, login, e-mail, what to write): on PostgreSQL the row as a line of COPY text, made here
        so that the writer only sends it; elsewhere the model's values."""
        login_at, email_at = self.position["login"], self.position["email"]
        if self.copy:
            return [(line, values[login_at], values[email_at], _copy_line(values)) for line, values in rows]
        attnames = list(self.position)
        prepared = []
        for line, values in rows:
            fields = dict(zip(attnames, values, strict=True))
            fields.update(
                created_at=self.now,
                changed_at=self.now,
                validity=int(fields["validity"]),
                extra_attributes=json.loads(fields["extra_attributes"]),
            )
            prepared.append((line, values[login_at], values[email_at], fields))
        return prepared

    def _taken(self, column: str, keys: list[str]) -> dict[str, bool]:
        """Which of these lower-cased values the table holds: key → whether it was added since this run
        began (then an earlier line of the file holds it)."""
        if not keys:
            return {}
        connection = transaction.get_connection()
        quote = connection.ops.quote_name
        column, table = quote(column), quote(CustomerUser._meta.db_table)
        since = connection.ops.adapt_datetimefield_value(self.now)
        if connection.vendor == "postgresql":
            # The keys as one JSON parameter: a 5000-item list or array costs more to quote, parse and plan
            # (selectivity per item) than the look-ups themselves. One index look-up per key, whatever the
            # statistics say: a join could turn into a scan of the whole table while it is being filled.
            sql = (
                f"SELECT key, (SELECT bool_or(create_time >= %s) FROM {table} WHERE LOWER({column}) = key)"
                " FROM jsonb_array_elements_text(%s::jsonb) AS key"
            )
            params = [since, json.dumps(keys)]
        else:
            placeholders = ", ".join(["%s"] * len(keys))
            sql = (
                f"SELECT LOWER({column}), create_time >= %s FROM {table}"
                f" WHERE LOWER({column}) IN ({placeholders})"
            )
            params = [since, *keys]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return {key: bool(this_run) for key, this_run in cursor.fetchall() if this_run is not None}

    def against_database(self, rows):
        taken_emails = {}
        if self.config.email_unique_check:
            taken_emails = self._taken("email", [email.lower() for _, _, email, _ in rows if email])
        taken_logins = self._taken("login", [login.lower() for _, login, _, _ in rows])
        return self._without_taken(rows, taken_logins, taken_emails)

    def screen(self, rows):
        """E-mails against the table, logins and e-mails against the batches in flight, which the table
        may not show yet; a login is otherwise left to the unique index (see `store`). Batches in flight
        share no key, so no writer waits on another's rows while that one waits for its commit."""
        check_emails = self.config.email_unique_check
        logins = {login.lower() for _, login, _, _ in rows}
        emails = {email.lower() for _, _, email, _ in rows if email} if check_emails else set()
        taken_logins: dict[str, bool] = {}
        taken_emails = self._taken("email", list(emails)) if check_emails else {}
        for in_flight_logins, in_flight_emails in self.in_flight_keys:
            taken_logins.update(dict.fromkeys(logins & in_flight_logins, True))
            taken_emails.update(dict.fromkeys(emails & in_flight_emails, True))
        errors: list[RowError] = []
        if taken_logins or taken_emails:
            rows, errors = self._without_taken(rows, taken_logins, taken_emails)
            logins = {login.lower() for _, login, _, _ in rows}
            emails = {email.lower() for _, _, email, _ in rows if email} if check_emails else set()
        self.in_flight_keys.append((logins, emails))
        return rows, errors

    def store(self, rows, *, screened):
        """A screened batch is copied as it is: the unique index on logins refuses a taken one, and only
        then, back at a savepoint, is every row checked. A clean file costs no look-ups in the writer."""
        if screened and rows:
            try:
                with transaction.atomic():
                    self.write(rows)
                return rows, []
            except IntegrityError:
                pass
        return super().store(rows, screened=screened)

    def key(self, row):
        return row[1]

    def was_written(self, key):
        return CustomerUser.objects.filter(login=key).exists()

    @staticmethod
    def _without_taken(rows, taken_logins: dict[str, bool], taken_emails: dict[str, bool]):
        """The rows whose login and e-mail are not taken, and an error for each of the others; a key
        taken by this run is one the file holds twice."""
        kept, errors = [], []
        for row in rows:
            line, login, email, _ = row
            if login.lower() in taken_logins:
                reason = (
                    "UserLogin appears twice in the file."
                    if taken_logins[login.lower()]
                    else f"Customer user {login!r} already exists."
                )
                errors.append(RowError(line, "UserLogin", login, reason))
            elif email and email.lower() in taken_emails:
                reason = (
                    "UserEmail appears twice in the file."
                    if taken_emails[email.lower()]
                    else "This email address is already in use for another customer user."
                )
                errors.append(RowError(line, "UserEmail", email, reason))
            else:
                kept.append(row)
        return kept, errors

    def write(self, rows: list[tuple[int, str, str, Any]]) -> None:
        """COPY on PostgreSQL (several times faster than INSERT for a big batch); bulk_create elsewhere.
        The batch's history is one entry listing its rows, in the same transaction (measured: an entry per
        row, even through COPY, made a 200,000-row import 16–18% slower; one per batch: +3%, within noise)."""
        record_import(
            "customer_users.imported", Path(self.path).name, [login for _, login, *_ in rows],
            lines=[rows[0][0], rows[-1][0]] if rows else [], source=self.config.alias,
        )  # fmt: skip
        if not self.copy:
            CustomerUser.objects.bulk_create([CustomerUser(**values) for *_, values in rows], batch_size=1000)
            return
        connection = transaction.get_connection()
        columns = ", ".join(connection.ops.quote_name(f.column) for f in self.columns)
        with connection.cursor() as cursor, connection.wrap_database_errors:
            # New rows go to the trigram index's pending list and are merged in bulk (GIN fastupdate).
            cursor.execute("SET LOCAL gin_pending_list_limit = '64MB'")
            cursor.cursor.copy_expert(
                f"COPY {connection.ops.quote_name(CustomerUser._meta.db_table)} ({columns}) FROM STDIN",
                io.StringIO("".join(text for *_, text in rows)),
                size=1 << 20,
            )


COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """A default value as COPY text (NULL never occurs: the columns are NOT NULL)."""
    if isinstance(value, dict):
        return json.dumps(value)
    return str(int(value)) if isinstance(value, int) else str(value)


def _copy_line(values: list[str]) -> str:
    """One row in COPY's text format: tab-separated, with backslash escapes where a value needs them."""
    line = "\t".join(values)
    if "\\" in line or "\n" in line or "\r" in line or line.count("\t") >= len(values):
        line = "\t".join(value.translate(COPY_ESCAPES) for value in values)
    return line + "\n"


def memory_mb() -> float:
    """Resident set size of this process (Linux), for the import's summary."""
    try:
        with open(f"/proc/{os.getpid()}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass(frozen=True)
class FileCheck:
    """What a dry run of a file found (the admin's import screen): its result and the first reported rows."""

    result: ImportResult | None
    problems: list[tuple[str, str, str, str]]  # line, field, value, reason
    refused: str = ""  # the whole file refused (its header, its format): why


REPORT_SHOWN = 200  # reported rows shown on the screen; the full report is the command's


def check_file(upload: Any, importer_class: type[Importer], **extra: Any) -> FileCheck:
    """Run the import of an uploaded file as a dry run — the commands' engine and rules, writing nothing —
    in a directory of its own that is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="helpdesk-import-") as workdir:
        path = Path(workdir) / Path(getattr(upload, "name", "") or "upload.csv").name
        with path.open("wb") as target:
            for chunk in upload.chunks():
                target.write(chunk)
        importer = importer_class(path, dry_run=True, **extra)
        try:
            result = importer.run()
        except (HeaderRejected, ValueError) as exc:
            return FileCheck(None, [], refused=str(exc))
        problems: list[tuple[str, str, str, str]] = []
        if importer.report_path.exists():
            with importer.report_path.open(encoding="utf-8", newline="") as report:
                rows = csv.reader(report)
                next(rows, None)
                problems = [tuple(row[:4]) for row, _ in zip(rows, range(REPORT_SHOWN), strict=False)]
    return FileCheck(result, problems)
