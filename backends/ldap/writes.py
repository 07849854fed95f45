"""Writes to a directory through django-ldapdb: one model per LDAP source, built from its Map."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import ldap
from django.apps.registry import Apps
from django.utils.translation import gettext as _

from backends.compat import ldapdb
from backends.connections import source_connection
from backends.errors import CustomerUserInvalid, SourceUnavailable


def _field_name(attribute: str) -> str:
    return "attr_" + re.sub(r"\W", "_", attribute)


@cache
def _model_for(alias: str, base_dn: str, object_classes: tuple[str, ...], key: str,
               columns: tuple[tuple[str, bool], ...]) -> type:  # fmt: skip
    """A django-ldapdb model in its own app registry (so building it never touches the project's)."""
    fields: dict[str, Any] = {
        "__module__": __name__,
        "base_dn": base_dn,
        "object_classes": list(object_classes),
        "Meta": type("Meta", (), {"apps": Apps(), "app_label": "backends", "managed": False}),
    }
    for column, multi_valued in columns:
        field_class = ldapdb.models.fields.ListField if multi_valued else ldapdb.models.fields.CharField
        options = {"db_column": column, "blank": True}
        if column == key:
            options["primary_key"] = True  # the RDN is `<key>=<login>` (django-ldapdb builds it)
        if not multi_valued:
            options["max_length"] = 1000
        fields[_field_name(column)] = field_class(**options)
    return type(f"Directory{alias}", (ldapdb.models.Model,), fields)


@dataclass(frozen=True)
class Directory:
    """What a write needs of one LDAP source: where its entries live, their attributes (name, multi-valued),
    and how to reach the server. Built by the source (LDAPSource.directory)."""

    alias: str
    fingerprint: str
    base_dn: str
    object_classes: tuple[str, ...]
    key: str
    columns: tuple[tuple[str, bool], ...]
    uris: tuple[str, ...]
    bind_dn: str
    bind_pw: str
    start_tls: bool
    ca_file: str
    timeout: float

    @property
    def model(self) -> type:
        return _model_for(self.alias, self.base_dn, self.object_classes, self.key, self.columns)


def _ldapdb_alias(directory: Directory) -> str:
    options = {ldap.OPT_NETWORK_TIMEOUT: directory.timeout, "query_timeout": int(directory.timeout)}
    if directory.ca_file:
        options[ldap.OPT_X_TLS_CACERTFILE] = directory.ca_file
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
        options[ldap.OPT_X_TLS_NEWCTX] = 0
    return source_connection(f"ldap:{directory.alias}:{directory.fingerprint}", {
        "ENGINE": "ldapdb.backends.ldap", "NAME": " ".join(directory.uris), "USER": directory.bind_dn,
        "PASSWORD": directory.bind_pw, "TLS": directory.start_tls, "CONNECTION_OPTIONS": options,
    })  # fmt: skip


def write_entry(directory: Directory, dn: str | None, values: dict[str, list[str]]) -> None:
    """Create the entry (dn None) or replace its Map attributes; a rename follows the login."""
    using = _ldapdb_alias(directory)
    model = directory.model
    try:
        entry = model() if dn is None else model.objects.using(using).get(dn=dn)
        for column, column_values in values.items():
            field = model._meta.get_field(_field_name(column))
            value = column_values if isinstance(field, ldapdb.models.fields.ListField) else (
                column_values[0] if column_values else ""
            )  # fmt: skip
            setattr(entry, field.attname, value)
        entry.save(using=using)
    except (ldap.OBJECT_CLASS_VIOLATION, ldap.INVALID_SYNTAX, ldap.CONSTRAINT_VIOLATION,
            ldap.ALREADY_EXISTS, ldap.UNDEFINED_TYPE, ldap.NAMING_VIOLATION) as exc:  # fmt: skip
        info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
        detail = " ".join(str(info.get(k, "")) for k in ("desc", "info")).strip()
        raise CustomerUserInvalid(
            {"__all__": [_("The directory refused the entry: %(detail)s.") % {"detail": detail}]},
            login=values.get(directory.key, [""])[0],
            summary=_("the directory refused it (%(detail)s)") % {"detail": detail},
        ) from exc
    except (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR, ldap.INSUFFICIENT_ACCESS) as exc:
        raise SourceUnavailable(alias=directory.alias, operation="write", detail=str(exc)) from exc
