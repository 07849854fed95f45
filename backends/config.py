"""Parse a source's configuration once into frozen objects (MapRow, SourceConfig).

The keys are the reference's own (R11), so a `Config.pm` block translates line by line. Validation lives
here, in `validate_source_config`, and is shared by the system checks and the registry: a config that the
checks accept is exactly a config the registry can build.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

ALIAS_RE = re.compile(r"^CustomerUser([1-9]|10)?$")
MAX_SOURCES = 11
REQUIRED_ATTRIBUTES = ("UserLogin", "UserEmail", "UserCustomerID")
MULTI_VALUED_ATTRIBUTES = ("UserCustomerIDs",)  # a directory gives every value of these, joined by ";" (R61)
STORAGE_TYPES = ("var", "int", "dynamic_field")

MODULE_SHORT_NAMES = {
    "DB": "backends.sql.DBSource",
    "Kernel::System::CustomerUser::DB": "backends.sql.DBSource",
    "LDAP": "backends.ldap.LDAPSource",
    "Kernel::System::CustomerUser::LDAP": "backends.ldap.LDAPSource",
}

# Every key a source may have, with its default where the reference's code has one (R11).
SOURCE_KEYS: dict[str, Any] = {
    "Name": "",
    "Module": None,
    "Params": None,
    "CustomerKey": None,
    "Key": None,  # legacy spelling of CustomerKey (DB)
    "CustomerID": None,
    "CustomerValid": None,
    "CustomerUserListFields": ["first_name", "last_name", "email"],
    "CustomerUserSearchFields": ["login", "first_name", "last_name", "customer_id"],
    "CustomerUserSearchPrefix": "",
    "CustomerUserSearchSuffix": "*",
    "CustomerUserSearchListLimit": None,  # the kind's default (BaseSource.config_defaults)
    "CustomerUserPostMasterSearchFields": ["email"],
    "CustomerUserNameFields": ["first_name", "last_name"],
    "CustomerUserNameFieldsJoin": " ",
    "CustomerUserEmailUniqCheck": 1,
    "CustomerUserExcludePrimaryCustomerID": 0,
    "CustomerUserValidFilter": "",
    "AutoLoginCreation": 0,
    "AutoLoginCreationPrefix": "auto",
    "AdminSetPreferences": None,  # the kind's default
    "CacheTTL": None,  # the kind's default
    "Timeout": 10,  # seconds a search may take before the others answer without it (ours, not R11)
    "RetryAfter": 30,  # seconds a failed or timed-out source is skipped before a request retries it (ours)
    "ReadOnly": None,  # the kind's default
    "CustomerCompanySupport": 1,
    "CustomerGroupSupport": 0,  # R14: off gives the source's users every valid group (R103 step 1)
    "TranslateManagerTo": "",
    "Map": None,
    "Selections": {},
    # The directory lifecycle (ours; directory sources only, backends.ldap.lifecycle): SYNC_KEYS.
    "Sync": False,
    "SyncSchedule": None,
    "SyncIncrementalSchedule": None,
    "SyncGuardPercent": 10,
    "IdentityAttribute": "entryUUID",
    "DisabledPreset": None,
    # What a directory says about companies and customer groups (ours; directory sources only,
    # backends.ldap.rules): RULE_KEYS.
    "CompanyRules": None,
    "GroupRules": None,
    "NestedGroups": False,
    # SCIM clients writing to this source (ours; sources of this product's own table, provisioning.scim):
    # SCIM_KEYS, checked by provisioning.checks.
    "ScimMap": None,
    "ScimGroups": None,
}
RULE_KEYS = ("CompanyRules", "GroupRules", "NestedGroups")
SCIM_KEYS = ("ScimMap", "ScimGroups")
SYNC_KEYS = ("Sync", "SyncSchedule", "SyncIncrementalSchedule", "SyncGuardPercent", "IdentityAttribute",
             "DisabledPreset")  # fmt: skip

LIST_KEYS = (
    "CustomerUserListFields",
    "CustomerUserSearchFields",
    "CustomerUserPostMasterSearchFields",
    "CustomerUserNameFields",
)
FLAG_KEYS = (
    "CustomerUserEmailUniqCheck",
    "CustomerUserExcludePrimaryCustomerID",
    "AutoLoginCreation",
    "AdminSetPreferences",
    "ReadOnly",
    "CustomerCompanySupport",
    "CustomerGroupSupport",
)


def ordered_aliases(raw: Mapping[str, Any]) -> list[str]:
    """Return the valid source names of `raw` in R10 order: CustomerUser, CustomerUser1 … CustomerUser10."""
    found = [alias for alias in raw if ALIAS_RE.match(alias)]
    return sorted(found, key=lambda alias: int(alias.removeprefix("CustomerUser") or 0))


def module_path(module: str) -> str:
    return MODULE_SHORT_NAMES.get(module, module)


def truthy(value: Any) -> bool:
    """Perl truthiness, as the reference's configs use it: '', 0, '0' and None are false."""
    return value not in (None, "", 0, "0", False)


@dataclass(frozen=True)
class MapRow:
    """One row of a source's Map (R12)."""

    attribute: str
    label: str
    storage: str
    shown: int = 1
    required: bool = False
    storage_type: str = "var"
    http_link: str = ""
    read_only: bool = False
    link_target: str = ""
    link_class: str = ""

    @classmethod
    def from_row(cls, row: list[Any] | tuple[Any, ...]) -> MapRow:
        padded = list(row) + [None] * (10 - len(row))
        return cls(
            attribute=str(padded[0]),
            label=str(padded[1] or padded[0]),
            storage=str(padded[2]),
            shown=int(padded[3] or 0),
            required=truthy(padded[4]),
            storage_type=str(padded[5] or "var"),
            http_link=str(padded[6] or ""),
            read_only=truthy(padded[7]),
            link_target=str(padded[8] or ""),
            link_class=str(padded[9] or ""),
        )

    @property
    def is_password(self) -> bool:
        return self.attribute == "UserPassword"

    @property
    def is_dynamic_field(self) -> bool:
        return self.storage_type == "dynamic_field"


@dataclass(frozen=True)
class ConfigProblem:
    path: str  # e.g. "['Map'][3]" or "['CustomerKee']"
    message: str
    hint: str = ""
    check_id: str = "backends.E001"


@dataclass(frozen=True)
class SourceConfig:
    """A validated source configuration; code below the registry reads only this."""

    alias: str
    name: str
    module_path: str
    params: Mapping[str, Any]
    customer_key: str
    customer_id: str
    customer_valid: str | None
    list_fields: tuple[str, ...]
    search_fields: tuple[str, ...]
    search_prefix: str
    search_suffix: str
    search_list_limit: int
    postmaster_search_fields: tuple[str, ...]
    name_fields: tuple[str, ...]
    name_fields_join: str
    email_unique_check: bool
    exclude_primary_customer_id: bool
    valid_filter: str
    auto_login_creation: bool
    auto_login_creation_prefix: str
    admin_set_preferences: bool
    cache_ttl: int
    timeout: float
    retry_after: float
    read_only: bool
    company_support: bool
    group_support: bool
    map_rows: tuple[MapRow, ...]
    storage_names_case_blind: bool = False  # a directory's attribute names (RFC 4512)
    selections: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_settings(cls, alias: str, raw: Mapping[str, Any]) -> SourceConfig:
        problems = validate_source_config(alias, raw)
        if problems:
            first = problems[0]
            raise ImproperlyConfigured(
                f"CUSTOMER_USER_BACKENDS[{alias!r}]{first.path}: {first.message}"
                + (f" ({first.hint})" if first.hint else "")
            )
        return cls._build(alias, raw)

    @classmethod
    def _build(cls, alias: str, raw: Mapping[str, Any]) -> SourceConfig:
        path = module_path(raw["Module"])
        source_class = import_string(path)
        defaults: Mapping[str, Any] = source_class.config_defaults  # a source kind's own defaults

        def get(key: str, default: Any = None) -> Any:
            value = raw.get(key)
            if value is None:
                value = defaults.get(key, SOURCE_KEYS.get(key))
            return default if value is None else value

        storages = {str(row[2]) for row in raw["Map"]}

        def fields(key: str) -> tuple[str, ...]:
            """A list given is taken as written; a default keeps only the Map's storage names."""
            if raw.get(key) is not None:
                return tuple(raw[key])
            return tuple(name for name in SOURCE_KEYS[key] if name in storages)

        return cls(
            alias=alias,
            name=str(get("Name") or f"No Name {alias.removeprefix('CustomerUser') or 0}"),
            module_path=path,
            params=dict(raw.get("Params") or {}),
            customer_key=str(raw.get("CustomerKey") or raw.get("Key")),
            customer_id=str(raw["CustomerID"]),
            customer_valid=raw.get("CustomerValid") or None,
            list_fields=fields("CustomerUserListFields"),
            search_fields=fields("CustomerUserSearchFields"),
            search_prefix=str(get("CustomerUserSearchPrefix")),
            search_suffix=str(get("CustomerUserSearchSuffix")),
            search_list_limit=int(get("CustomerUserSearchListLimit")),
            postmaster_search_fields=fields("CustomerUserPostMasterSearchFields"),
            name_fields=fields("CustomerUserNameFields"),
            name_fields_join=str(get("CustomerUserNameFieldsJoin")),
            email_unique_check=truthy(get("CustomerUserEmailUniqCheck")),
            exclude_primary_customer_id=truthy(get("CustomerUserExcludePrimaryCustomerID")),
            valid_filter=str(get("CustomerUserValidFilter")),
            auto_login_creation=truthy(get("AutoLoginCreation")),
            auto_login_creation_prefix=str(get("AutoLoginCreationPrefix")),
            admin_set_preferences=truthy(get("AdminSetPreferences")),
            cache_ttl=int(get("CacheTTL")),
            timeout=float(get("Timeout")),
            retry_after=float(get("RetryAfter")),
            read_only=truthy(get("ReadOnly")),
            company_support=truthy(get("CustomerCompanySupport")),
            group_support=truthy(get("CustomerGroupSupport")),
            map_rows=tuple(MapRow.from_row(row) for row in raw["Map"]),
            storage_names_case_blind=source_class.storage_names_case_blind,
            selections={k: dict(v) for k, v in (raw.get("Selections") or {}).items()},
            raw=raw,
        )

    def row(self, attribute: str) -> MapRow | None:
        return self._rows_by_attribute.get(attribute)

    def row_for_storage(self, storage: str) -> MapRow | None:
        """The Map row of a storage name; for a directory compared case-blind, as LDAP attribute names are
        (RFC 4512: `givenname` is `givenName`)."""
        found = self._rows_by_storage.get(storage)
        if found is None and self.storage_names_case_blind:
            found = self._rows_by_storage_folded.get(storage.casefold())
        return found

    @cached_property
    def _rows_by_storage_folded(self) -> dict[str, MapRow]:
        rows: dict[str, MapRow] = {}
        for row in self.map_rows:
            rows.setdefault(row.storage.casefold(), row)
        return rows

    @cached_property
    def _rows_by_attribute(self) -> dict[str, MapRow]:
        return {row.attribute: row for row in self.map_rows}

    @cached_property
    def _rows_by_storage(self) -> dict[str, MapRow]:
        rows: dict[str, MapRow] = {}
        for row in self.map_rows:
            rows.setdefault(row.storage, row)  # the first row of a storage name, as before
        return rows

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever the configuration does: part of every cache key of this source."""
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @cached_property
    def unmapped_shown_fields(self) -> tuple[str, ...]:
        """List and name fields that are no storage name of the Map: attributes of the entry or columns of
        the table, read by their own name (the reference's LDAP examples list `cn` without a Map row)."""
        names = (*self.list_fields, *self.name_fields)
        return tuple(dict.fromkeys(n for n in names if self.row_for_storage(n) is None))

    @cached_property
    def unmapped_fields(self) -> tuple[str, ...]:
        """Every list, name, search and postmaster field that is no storage name of the Map."""
        names = (*self.list_fields, *self.name_fields, *self.search_fields, *self.postmaster_search_fields)
        return tuple(dict.fromkeys(n for n in names if self.row_for_storage(n) is None))

    @property
    def storages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(row.storage for row in self.map_rows))


def validate_source_config(alias: str, raw: Any) -> list[ConfigProblem]:
    """Return every problem of one source's configuration; empty when it can be built."""
    if not isinstance(raw, Mapping):
        return [
            ConfigProblem("", f"must be a table of keys, not {type(raw).__name__}", check_id="backends.E002")
        ]
    problems = list(_problems(alias, raw))
    if not problems:
        source_class = import_string(module_path(raw["Module"]))
        problems = list(source_class.config_problems(raw))
        rules = [key for key in RULE_KEYS if raw.get(key) and key != "NestedGroups"]
        if rules and not source_class.supports_directory_rules:
            problems.append(ConfigProblem(
                f"[{rules[0]!r}]", f"a {source_class.kind} source holds no directory groups or subtrees",
                hint="Company and group rules are for directory sources (Module LDAP); remove the key here.",
                check_id="backends.E046",
            ))  # fmt: skip
        if truthy(raw.get("Sync")) and not source_class.supports_sync:
            problems.append(ConfigProblem(
                "['Sync']", f"a {source_class.kind} source is read where it lives and is not synced",
                hint="Sync is for directory sources (Module LDAP); remove the key here.",
                check_id="backends.E045",
            ))  # fmt: skip
    return problems


def _problems(alias: str, raw: Mapping[str, Any]) -> Iterator[ConfigProblem]:
    for key in raw:
        if key not in SOURCE_KEYS:
            close = difflib.get_close_matches(key, SOURCE_KEYS, n=1)
            yield ConfigProblem(
                f"[{key!r}]",
                "unknown key",
                hint=f"Did you mean {close[0]!r}?" if close else "Remove it; see the reference's key list.",
                check_id="backends.E010",
            )

    module = raw.get("Module")
    if not module or not isinstance(module, str):
        yield ConfigProblem(
            "['Module']",
            "missing",
            hint="Use 'DB', 'LDAP' or a dotted path to a source class.",
            check_id="backends.E011",
        )
    else:
        try:
            import_string(module_path(module))
        except ImportError as exc:
            yield ConfigProblem(
                "['Module']",
                f"{module!r} does not import: {exc}",
                hint="Use 'DB', 'LDAP' or a dotted path to a source class.",
                check_id="backends.E012",
            )

    params = raw.get("Params")
    if params is not None and not isinstance(params, Mapping):
        yield ConfigProblem("['Params']", "must be a table", check_id="backends.E013")

    if not (raw.get("CustomerKey") or raw.get("Key")):
        yield ConfigProblem(
            "['CustomerKey']",
            "missing: name the column or attribute holding the login",
            check_id="backends.E014",
        )
    if not raw.get("CustomerID"):
        yield ConfigProblem(
            "['CustomerID']",
            "missing: name the column or attribute holding the customer ID",
            check_id="backends.E014",
        )

    for key in LIST_KEYS:
        value = raw.get(key)
        if value is not None and (
            not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value)
        ):
            yield ConfigProblem(f"[{key!r}]", "must be a list of strings", check_id="backends.E015")

    for key in ("Timeout", "RetryAfter"):
        seconds = raw.get(key)
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0
        ):
            yield ConfigProblem(
                f"[{key!r}]", f"must be a number of seconds > 0, not {seconds!r}", check_id="backends.E016"
            )

    for key in ("CustomerUserSearchListLimit", "CacheTTL"):
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            yield ConfigProblem(
                f"[{key!r}]", f"must be a whole number ≥ 0, not {value!r}", check_id="backends.E016"
            )

    for key in FLAG_KEYS:
        value = raw.get(key)
        if value is not None and value not in (0, 1, "0", "1", True, False, ""):
            yield ConfigProblem(f"[{key!r}]", f"must be 0 or 1, not {value!r}", check_id="backends.E017")

    selections = raw.get("Selections")
    if selections is not None and (
        not isinstance(selections, Mapping) or not all(isinstance(v, Mapping) for v in selections.values())
    ):
        yield ConfigProblem(
            "['Selections']", "must map an attribute to a table of value → label", check_id="backends.E018"
        )

    yield from _map_problems(raw)


def _map_problems(raw: Mapping[str, Any]) -> Iterator[ConfigProblem]:
    rows = raw.get("Map")
    if not isinstance(rows, list | tuple) or not rows:
        yield ConfigProblem(
            "['Map']", "missing or empty: a list of field rows (R12)", check_id="backends.E020"
        )
        return
    attributes: list[str] = []
    storages: set[str] = set()
    for index, row in enumerate(rows):
        if not isinstance(row, list | tuple) or len(row) < 6:
            yield ConfigProblem(
                f"['Map'][{index}]",
                "a row needs at least 6 columns: attribute, label, storage, shown, required, storage type",
                check_id="backends.E021",
            )
            continue
        if not isinstance(row[0], str) or not row[0] or not isinstance(row[2], str) or not row[2]:
            yield ConfigProblem(
                f"['Map'][{index}]",
                "attribute (column 0) and storage (column 2) must be non-empty strings",
                check_id="backends.E021",
            )
            continue
        if row[5] not in STORAGE_TYPES:
            yield ConfigProblem(
                f"['Map'][{index}][5]",
                f"storage type {row[5]!r} is not one of {', '.join(STORAGE_TYPES)}",
                check_id="backends.E022",
            )
        if row[3] not in (0, 1, 2, "0", "1", "2"):
            yield ConfigProblem(
                f"['Map'][{index}][3]", f"shown must be 0, 1 or 2, not {row[3]!r}", check_id="backends.E022"
            )
        if row[0] in attributes:
            yield ConfigProblem(
                f"['Map'][{index}]", f"attribute {row[0]!r} appears twice", check_id="backends.E023"
            )
        attributes.append(row[0])
        storages.add(row[2])
    for attribute in REQUIRED_ATTRIBUTES:
        if attribute not in attributes:
            yield ConfigProblem(
                "['Map']",
                f"has no {attribute} row",
                hint="Every Map needs UserLogin, UserEmail and UserCustomerID (R12).",
                check_id="backends.E024",
            )
    for key in LIST_KEYS:  # raw attribute or column names (the reference reads them without the Map)
        names = raw.get(key) or ()
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) and n for n in names):
            yield ConfigProblem(
                f"[{key!r}]", "must be a list of attribute or column names", check_id="backends.E025"
            )
    for key in ("CustomerKey", "CustomerID", "CustomerValid"):
        name = raw.get(key) or (raw.get("Key") if key == "CustomerKey" else None)
        if isinstance(name, str) and name and name not in storages:
            yield ConfigProblem(
                f"[{key!r}]",
                f"{name!r} is not a storage name of the Map",
                hint=f"Use one of: {', '.join(sorted(storages))}.",
                check_id="backends.E025",
            )
    for attribute in raw.get("Selections") or {}:
        if attribute not in attributes:
            yield ConfigProblem(
                f"['Selections'][{attribute!r}]", "is not an attribute of the Map", check_id="backends.E026"
            )
