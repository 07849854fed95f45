"""Bulk import of customers and customer users from CSV or JSON lines: streaming, in batches, resumable.

Rows are read one at a time and validated in batches (every field, then the database: duplicates, unknown
customers, taken e-mails). Valid rows of a batch are written in one transaction; a row with an error is
not written and goes to the error report (line, field, value, reason) next to the input. After each
committed batch the line reached is written to a progress file next to the input, so an import stopped
half-way (crash, Ctrl-C, a lost database) leaves no partial batch behind and `--resume` carries on after
the last committed batch. `--dry-run` validates everything and writes nothing but the report.

Passwords are imported only as hashes (Django's, or the reference's formats of R88, which are replaced
at the first login): hashing a million clear passwords is neither fast nor something a file should carry.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.validators import EmailValidator, ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from backends.config import SourceConfig
from backends.hashers import as_django_encoded
from backends.sql import exact_lookups
from customers.models import Customer, CustomerUser, Validity

BATCH_SIZE = 5000
CLEAR_PASSWORD = (
    "UserPassword must be a password hash (Django's or the reference's formats), not a clear password."
)
_email = EmailValidator()


@dataclass
class RowError:
    line: int
    field: str
    value: str
    reason: str


@dataclass
class ImportResult:
    read: int = 0
    written: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_rows: int = 0
    resumed_after: int = 0
    dry_run: bool = False

    @property
    def report_rows(self) -> int:
        return len(self.errors)


def read_rows(path: Path, fmt: str | None = None) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line, row or None, problem) for every data line of a CSV (header first) or JSON-lines file."""
    fmt = fmt or ("jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if fmt == "csv":
            reader = csv.DictReader(handle)
            for row in reader:
                if None in row:
                    yield (
                        reader.line_num,
                        None,
                        f"has {len(row[None]) + len(reader.fieldnames)} columns; "
                        f"the header has {len(reader.fieldnames)}",
                    )
                    continue
                yield reader.line_num, row, ""
        else:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield number, None, f"is not JSON ({exc.msg} at column {exc.colno})"
                    continue
                if not isinstance(row, dict):
                    yield number, None, "is not a JSON object"
                    continue
                yield number, row, ""


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
        result = ImportResult(dry_run=self.dry_run)
        start_after = self._checkpoint() if self.resume else 0
        result.resumed_after = start_after
        batch: list[tuple[int, dict[str, Any]]] = []
        for line, row, problem in read_rows(self.path, self.fmt):
            if line <= start_after:
                continue
            result.read += 1
            if row is None:
                result.errors.append(RowError(line, "", "", f"Line {line} {problem}."))
                result.error_rows += 1
            else:
                batch.append((line, row))
            if len(batch) >= self.batch_size:
                self._batch(batch, result)
                batch = []
        if batch:
            self._batch(batch, result)
        self._write_report(result)
        if not self.dry_run and self.progress_path.exists():
            self.progress_path.unlink()  # finished: nothing to resume
        if not self.dry_run and result.written:
            self._analyze()
        return result

    def _analyze(self) -> None:
        """Fresh planner statistics after a bulk load, so searches use their indexes at once."""
        connection = transaction.get_connection()
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(self.model._meta.db_table)}")

    def _batch(self, batch: list[tuple[int, dict[str, Any]]], result: ImportResult) -> None:
        instances, errors = self.validate(batch)
        result.errors.extend(errors)
        result.error_rows += len({e.line for e in errors})
        if not self.dry_run and instances:
            try:
                with transaction.atomic():
                    self.write(instances)
            except IntegrityError as exc:  # a concurrent writer took a key: the whole batch is left out
                raise ImportStopped(
                    f"lines {batch[0][0]}–{batch[-1][0]} were not written: {exc}".strip()
                ) from exc
            except DatabaseError as exc:
                raise ImportStopped(
                    f"the database failed at lines {batch[0][0]}–{batch[-1][0]}: {exc}"
                ) from exc
            result.written += len(instances)
            self.progress_path.write_text(json.dumps({"line": batch[-1][0], "written": result.written}))
        self.progress(len(batch))

    def write(self, rows: list) -> None:
        objects = [row if isinstance(row, self.model) else self.model(**row) for row in rows]
        self.model.objects.bulk_create(objects, batch_size=1000)

    def _checkpoint(self) -> int:
        try:
            return int(json.loads(self.progress_path.read_text())["line"])
        except (FileNotFoundError, ValueError, KeyError):
            return 0

    def _write_report(self, result: ImportResult) -> None:
        if not result.errors:
            if self.report_path.exists():
                self.report_path.unlink()
            return
        with self.report_path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["line", "field", "value", "reason"])
            for error in result.errors:
                writer.writerow([error.line, error.field, error.value[:200], error.reason])

    def validate(self, batch: list[tuple[int, dict[str, Any]]]) -> tuple[list, list[RowError]]:
        raise NotImplementedError


class ImportStopped(Exception):
    """The import stopped between batches; what was committed stays, `--resume` continues after it."""


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _check_length(errors: list[RowError], line: int, name: str, value: str, maximum: int) -> None:
    if len(value) > maximum:
        errors.append(
            RowError(line, name, value, f"{name} has {len(value)} characters; at most {maximum} are allowed.")
        )
    if "\x00" in value:
        errors.append(RowError(line, name, value, f"{name} must not contain NUL characters."))


def _valid_id(errors: list[RowError], line: int, value: Any) -> int:
    text = _text(value) or "1"
    if text not in ("1", "2", "3"):
        errors.append(
            RowError(
                line, "ValidID", text, "ValidID must be 1 (valid), 2 (invalid) or 3 (invalid-temporarily)."
            )
        )
        return Validity.VALID
    return int(text)


# ------------------------------------------------------------------------------------- customers
CUSTOMER_COLUMNS = {
    "CustomerID": "customer_id", "CustomerCompanyName": "name", "CustomerCompanyStreet": "street",
    "CustomerCompanyZIP": "zip", "CustomerCompanyCity": "city", "CustomerCompanyCountry": "country",
    "CustomerCompanyURL": "url", "CustomerCompanyComment": "comments",
}  # fmt: skip


class CustomerImporter(Importer):
    model = Customer
    kind = "customers"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen_ids: set[str] = set()
        self.seen_names: set[str] = set()
        self.lengths = {
            name: Customer._meta.get_field(column).max_length for name, column in CUSTOMER_COLUMNS.items()
        }

    def validate(self, batch):
        errors: list[RowError] = []
        candidates = []
        for line, row in batch:
            row_errors: list[RowError] = []
            unknown = sorted(set(row) - set(CUSTOMER_COLUMNS) - {"ValidID"})
            for name in unknown:
                row_errors.append(
                    RowError(
                        line,
                        name,
                        "",
                        f"{name} is not a customer field; known: {', '.join(CUSTOMER_COLUMNS)}, ValidID.",
                    )
                )
            values = {column: _text(row.get(name)) for name, column in CUSTOMER_COLUMNS.items()}
            for name, column in CUSTOMER_COLUMNS.items():
                _check_length(row_errors, line, name, values[column], self.lengths[name])
            for name, column in (("CustomerID", "customer_id"), ("CustomerCompanyName", "name")):
                if not values[column]:
                    row_errors.append(RowError(line, name, "", f"{name} is required."))
            validity = _valid_id(row_errors, line, row.get("ValidID"))
            key, name_key = values["customer_id"].casefold(), values["name"].casefold()
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
            if row_errors:
                errors.extend(row_errors)
                continue
            self.seen_ids.add(key)
            self.seen_names.add(name_key)
            candidates.append((line, Customer(**values, validity=validity)))
        taken_ids = set(
            Customer.objects.filter(customer_id__in=[c.customer_id for _, c in candidates]).values_list(
                "customer_id", flat=True
            )
        )
        taken_names = set(
            Customer.objects.filter(name__in=[c.name for _, c in candidates]).values_list("name", flat=True)
        )
        instances = []
        for line, customer in candidates:
            if customer.customer_id in taken_ids:
                errors.append(
                    RowError(
                        line,
                        "CustomerID",
                        customer.customer_id,
                        "A customer with this CustomerID already exists.",
                    )
                )
            elif customer.name in taken_names:
                errors.append(
                    RowError(
                        line,
                        "CustomerCompanyName",
                        customer.name,
                        "A customer with this name already exists.",
                    )
                )
            else:
                instances.append(customer)
        return instances, errors


# -------------------------------------------------------------------------------- customer users
class CustomerUserImporter(Importer):
    """Customer users into our own table, through the Map of the source that reads it."""

    model = CustomerUser
    kind = "customer users"

    def __init__(self, *args: Any, config: SourceConfig, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = config
        fields = {f.column: f for f in CustomerUser._meta.concrete_fields}
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
        self.seen_logins: set[str] = set()
        self.seen_emails: set[str] = set()
        self.customers = (
            set(Customer.objects.values_list("customer_id", flat=True)) if config.company_support else None
        )
        self.now = timezone.now()

    def validate(self, batch):
        errors: list[RowError] = []
        candidates: list[tuple[int, dict[str, Any]]] = []
        for line, row in batch:
            row_errors: list[RowError] = []
            if not row.keys() <= self.known:
                for name in sorted(set(row) - self.known):
                    row_errors.append(
                        RowError(
                            line, name, "", f"{name} is not an attribute of the Map of {self.config.alias}."
                        )
                    )
            values: dict[str, Any] = {"validity": Validity.VALID}
            extra: dict[str, Any] = {}
            for attribute, label, kind, target, maximum, required in self.plan:
                raw = row.get(attribute)
                value = raw.strip() if isinstance(raw, str) else _text(raw)
                if kind == "column" or kind == "extra":
                    if not value:
                        if required:
                            row_errors.append(RowError(line, attribute, "", f"{label} is required."))
                            continue
                    elif len(value) > maximum or "\x00" in value:
                        _check_length(row_errors, line, attribute, value, maximum)
                    if kind == "column":
                        values.setdefault(target, value)
                    else:
                        extra.setdefault(target, value)
                elif kind == "valid":
                    values["validity"] = _valid_id(row_errors, line, value)
                elif value:  # a password hash
                    if as_django_encoded(value) is None:
                        row_errors.append(
                            RowError(
                                line,
                                "UserPassword",
                                "(hidden)",
                                CLEAR_PASSWORD,
                            )
                        )
                    values["password"] = value
            login, email = values.get("login", ""), values.get("email", "")
            if email and values["validity"] == Validity.VALID:
                try:
                    _email(email)
                except ValidationError:
                    row_errors.append(
                        RowError(line, "UserEmail", email, f"{email!r} is not a valid e-mail address.")
                    )
            login_key, email_key = login.casefold(), email.casefold()
            if login_key in self.seen_logins:
                row_errors.append(RowError(line, "UserLogin", login, "UserLogin appears twice in the file."))
            if self.config.email_unique_check and email and email_key in self.seen_emails:
                row_errors.append(RowError(line, "UserEmail", email, "UserEmail appears twice in the file."))
            customer_id = values.get("customer_id", "")
            if self.customers is not None and customer_id and customer_id not in self.customers:
                row_errors.append(
                    RowError(line, "UserCustomerID", customer_id, f"There is no customer {customer_id!r}.")
                )
            if row_errors:
                errors.extend(row_errors)
                continue
            self.seen_logins.add(login_key)
            if email:
                self.seen_emails.add(email_key)
            values["extra_attributes"] = extra
            candidates.append((line, values))
        logins = [v["login"].lower() for _, v in candidates]
        with exact_lookups():
            return self._against_database(candidates, logins, errors)

    def _against_database(self, candidates, logins, errors):
        taken = set(
            CustomerUser.objects.annotate(key=Lower("login"))
            .filter(key__in=logins)
            .values_list("key", flat=True)
        )
        taken_emails: set[str] = set()
        if self.config.email_unique_check:
            emails = [v["email"].lower() for _, v in candidates if v.get("email")]
            taken_emails = set(
                CustomerUser.objects.annotate(key=Lower("email"))
                .filter(key__in=emails)
                .values_list("key", flat=True)
            )
        rows = []
        for line, values in candidates:
            if values["login"].lower() in taken:
                errors.append(
                    RowError(
                        line,
                        "UserLogin",
                        values["login"],
                        f"Customer user {values['login']!r} already exists.",
                    )
                )
            elif values.get("email") and values["email"].lower() in taken_emails:
                errors.append(
                    RowError(
                        line,
                        "UserEmail",
                        values["email"],
                        "This email address is already in use for another customer user.",
                    )
                )
            else:
                rows.append(values)
        return rows, errors

    def write(self, rows: list[dict[str, Any]]) -> None:
        """COPY on PostgreSQL (several times faster than INSERT for a big batch); bulk_create elsewhere."""
        connection = transaction.get_connection()
        if connection.vendor != "postgresql":
            super().write(rows)
            return
        fields = [
            f
            for f in CustomerUser._meta.concrete_fields
            if f.attname not in ("id", "created_by_id", "changed_by_id")
        ]
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
        for values in rows:
            values = {**values, "created_at": self.now, "changed_at": self.now}
            writer.writerow([
                json.dumps(values.get(f.attname) or {}, ensure_ascii=False) if f.attname == "extra_attributes"
                else values.get(f.attname, f.get_default()) for f in fields
            ])  # fmt: skip
        buffer.seek(0)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        with connection.cursor() as cursor, connection.wrap_database_errors:
            # New rows go to the trigram indexes' pending lists and are merged in bulk (GIN fastupdate).
            cursor.execute("SET LOCAL gin_pending_list_limit = '64MB'")
            cursor.cursor.copy_expert(
                f"COPY {connection.ops.quote_name(CustomerUser._meta.db_table)} ({columns})"
                " FROM STDIN WITH (FORMAT csv)",
                buffer,
            )


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
