"""Writes of the DB source (R56–R58, R88–R90): rows, password hashes and what the storage allows."""

from __future__ import annotations

import time
import zlib
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import DatabaseError, IntegrityError, connections, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backends.base import CustomerUserRecord
from backends.config import MapRow
from backends.errors import (
    CustomerUserInvalid,
    CustomerUserNotFound,
    SourceUnavailable,
    empty_password,
    login_taken,
    summarize,
)
from backends.hashers import as_django_encoded
from backends.sql.common import EXTRA_ATTRIBUTE_MAX_LENGTH, NUL, to_storage
from backends.values import MapRules
from core.actors import user_or_none


class Writes:
    """The DB source's writes."""

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
        if not password:
            return False
        if encoded is None:  # no usable hash (no password set): as slow a "no" as a wrong password's,
            make_password(password)  # as Django's ModelBackend does, so the time tells nothing
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
            value = to_storage(values.get(map_row.attribute), map_row)
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
