"""Copy customers, customer users and their relations from an OTRS, Znuny or OTOBO database.

Idempotent: running it again updates what changed and adds what is new, nothing twice. Password hashes
are copied as they are; their formats (R88) verify at the next login and are then replaced (W7).
Everything is read from the reference's own tables (R1–R9) through a database URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dj_database_url
from django.db import connections, transaction
from django.db.models.functions import Lower

from backends.base import RESERVED_ATTRIBUTES
from backends.connections import forget_source_connection, source_connection
from backends.registry import sources
from core import history
from core.generations import forget_customer_user_answers
from customers.models import (
    Customer,
    CustomerGroup,
    CustomerUser,
    CustomerUserCustomer,
    CustomerUserGroup,
    CustomerUserPreference,
    CustomerUserService,
    DefaultService,
    Group,
    Service,
)

logger = logging.getLogger(__name__)
MIGRATION = history.Acting("command", "migration")  # who writes a migration's history

CUSTOMER_COLUMNS = ("customer_id", "name", "street", "zip", "city", "country", "url", "comments", "valid_id")
USER_COLUMNS = (
    "login",
    "email",
    "customer_id",
    "pw",
    "title",
    "first_name",
    "last_name",
    "phone",
    "fax",
    "mobile",
    "street",
    "zip",
    "city",
    "country",
    "comments",
    "valid_id",
)
BATCH = 2000


@dataclass
class ZnunyImport:
    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


class ReferenceDatabase:
    """Read-only access to the reference's tables, in batches."""

    def __init__(self, dsn: str) -> None:
        settings_dict = dj_database_url.parse(dsn)
        self.alias = source_connection(f"znuny:{dsn}", settings_dict)
        self.connection = connections[self.alias]

    def close(self) -> None:
        forget_source_connection(self.alias)

    def tables(self) -> set[str]:
        with self.connection.cursor() as cursor:
            return set(self.connection.introspection.table_names(cursor))

    def rows(self, sql: str) -> Iterator[tuple]:
        with self.connection.cursor() as cursor:
            cursor.execute(sql)
            while batch := cursor.fetchmany(BATCH):
                yield from batch


def import_from_reference(dsn: str, *, dry_run: bool = False) -> ZnunyImport:
    source = ReferenceDatabase(dsn)
    result = ZnunyImport()
    try:
        tables = source.tables()
        missing = {"customer_company", "customer_user"} - tables
        if missing:
            raise ValueError(
                f"{dsn.split('@')[-1]}: not a reference database; no table {', '.join(sorted(missing))}"
            )
        with transaction.atomic():
            _customers(source, result)
            _customer_users(source, result)
            group_names = _groups(source, tables, result)
            service_names = _services(source, tables, result)
            _preferences(source, tables, result)
            _relations(source, tables, group_names, service_names, result)
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


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _customers(source: ReferenceDatabase, result: ZnunyImport) -> None:
    existing = {c.customer_id: c for c in Customer.objects.all()}
    new, changed = [], []
    for row in source.rows(
        f"SELECT {', '.join(CUSTOMER_COLUMNS)} FROM customer_company ORDER BY customer_id"
    ):
        values = dict(zip(CUSTOMER_COLUMNS, row, strict=True))
        fields = {k: _text(values[k]) for k in CUSTOMER_COLUMNS[1:-1]}
        fields["validity"] = int(values["valid_id"] or 1)
        current = existing.get(values["customer_id"])
        if current is None:
            new.append(Customer(customer_id=values["customer_id"], **fields))
        elif any(getattr(current, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(current, k, v)
            changed.append(current)
    Customer.objects.bulk_create(new, batch_size=BATCH)
    Customer.objects.bulk_update(changed, [*CUSTOMER_COLUMNS[1:-1], "validity"], batch_size=BATCH)
    result.add("customers added", len(new))
    result.add("customers updated", len(changed))


def _customer_users(source: ReferenceDatabase, result: ZnunyImport) -> None:
    attnames = {"pw": "password", "valid_id": "validity"}
    existing = dict(CustomerUser.objects.annotate(key=Lower("login")).values_list("key", "pk"))
    new, changed = [], []
    for row in source.rows(f"SELECT {', '.join(USER_COLUMNS)} FROM customer_user ORDER BY login"):
        values = {attnames.get(k, k): v for k, v in zip(USER_COLUMNS, row, strict=True)}
        values = {k: (int(v or 1) if k == "validity" else _text(v)) for k, v in values.items()}
        pk = existing.get(values["login"].lower())
        if pk is None:
            new.append(CustomerUser(**values))
            existing[values["login"].lower()] = -1
        else:
            changed.append(CustomerUser(pk=pk, **values))
    CustomerUser.objects.bulk_create(new, batch_size=BATCH)
    fields = [attnames.get(k, k) for k in USER_COLUMNS]
    CustomerUser.objects.bulk_update(changed, fields, batch_size=BATCH)
    result.add("customer users added", len(new))
    result.add("customer users updated", len(changed))


def _groups(source: ReferenceDatabase, tables: set[str], result: ZnunyImport) -> dict[int, str]:
    table = "permission_groups" if "permission_groups" in tables else "groups" if "groups" in tables else None
    if table is None:
        return {}
    names: dict[int, str] = {}
    existing = set(Group.objects.values_list("name", flat=True))
    new = []
    for group_id, name, comments, valid_id in source.rows(
        f"SELECT id, name, comments, valid_id FROM {table}"
    ):
        names[group_id] = name
        if name not in existing:
            new.append(Group(name=name, comments=_text(comments)[:250], validity=int(valid_id or 1)))
    Group.objects.bulk_create(new)
    result.add("groups added", len(new))
    return names


def _services(source: ReferenceDatabase, tables: set[str], result: ZnunyImport) -> dict[int, str]:
    if "service" not in tables:
        return {}
    names: dict[int, str] = {}
    existing = set(Service.objects.values_list("name", flat=True))
    new = []
    for service_id, name, comments, valid_id in source.rows(
        "SELECT id, name, comments, valid_id FROM service"
    ):
        names[service_id] = name
        if name not in existing:
            new.append(Service(name=name, comments=_text(comments)[:250], validity=int(valid_id or 1)))
    Service.objects.bulk_create(new)
    result.add("services added", len(new))
    return names


def _preferences(source: ReferenceDatabase, tables: set[str], result: ZnunyImport) -> None:
    if "customer_preferences" not in tables:
        return
    logins = dict(CustomerUser.objects.annotate(key=Lower("login")).values_list("key", "login"))
    rows = []
    for login, key, value in source.rows(
        "SELECT user_id, preferences_key, preferences_value FROM customer_preferences"
    ):
        stored = logins.get(_text(login).lower())
        if stored is None or key in RESERVED_ATTRIBUTES:  # R136: such keys were never meant to be stored
            result.skipped.append(f"preference {key!r} of {login!r}")
            continue
        rows.append(CustomerUserPreference(login=stored, key=key, value=_text(value)[:250]))
    CustomerUserPreference.objects.bulk_create(
        rows, batch_size=BATCH, update_conflicts=True, unique_fields=["login", "key"], update_fields=["value"]
    )
    result.add("preferences", len(rows))


def _relations(
    source: ReferenceDatabase,
    tables: set[str],
    group_names: dict[int, str],
    service_names: dict[int, str],
    result: ZnunyImport,
) -> None:
    logins = dict(CustomerUser.objects.annotate(key=Lower("login")).values_list("key", "login"))
    customers = set(Customer.objects.values_list("customer_id", flat=True))
    groups = dict(Group.objects.values_list("name", "pk"))
    services = dict(Service.objects.values_list("name", "pk"))
    if "customer_user_customer" in tables:
        rows = [
            CustomerUserCustomer(login=logins[_text(u).lower()], customer_id=c)
            for u, c in source.rows("SELECT user_id, customer_id FROM customer_user_customer")
            if _text(u).lower() in logins and c in customers
        ]
        CustomerUserCustomer.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)
        result.add("customer user ↔ customer", len(rows))
    if "group_customer_user" in tables:
        rows = [
            CustomerUserGroup(login=logins[_text(u).lower()], group_id=groups[group_names[g]], permission=k)
            for u, g, k in source.rows(
                "SELECT user_id, group_id, permission_key FROM group_customer_user WHERE permission_value = 1"
            )
            if _text(u).lower() in logins and g in group_names
        ]
        CustomerUserGroup.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)
        result.add("customer user ↔ group", len(rows))
    if "group_customer" in tables:
        rows = [
            CustomerGroup(customer_id=c, group_id=groups[group_names[g]], permission=k, context=ctx)
            for c, g, k, ctx in source.rows(
                "SELECT customer_id, group_id, permission_key, permission_context"
                " FROM group_customer WHERE permission_value = 1"
            )
            if c in customers and g in group_names
        ]
        CustomerGroup.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)
        result.add("customer ↔ group", len(rows))
    if "service_customer_user" in tables:
        users, defaults = [], []
        for login, service_id in source.rows(
            "SELECT customer_user_login, service_id FROM service_customer_user"
        ):
            if service_id not in service_names:
                continue
            if login == "<DEFAULT>":  # R130
                defaults.append(DefaultService(service_id=services[service_names[service_id]]))
            elif _text(login).lower() in logins:
                users.append(
                    CustomerUserService(
                        login=logins[_text(login).lower()], service_id=services[service_names[service_id]]
                    )
                )
        CustomerUserService.objects.bulk_create(users, batch_size=BATCH, ignore_conflicts=True)
        DefaultService.objects.bulk_create(defaults, ignore_conflicts=True)
        result.add("customer user ↔ service", len(users))
        result.add("default services", len(defaults))
