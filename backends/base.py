"""The interface every customer-user source implements, and the values sources return.

Words: `login` is the string mapped to UserLogin, `attributes` a dict keyed by Map attribute names,
`record` (CustomerUserRecord) what a source returned for one customer user, `alias` a source name.
"""

from __future__ import annotations

import re
import secrets
import string
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from backends.config import RULE_KEYS, SCIM_KEYS, SOURCE_KEYS, SYNC_KEYS, ConfigProblem, MapRow, SourceConfig
from backends.errors import SourceReadOnly, email_taken_message, login_taken_message
from backends.values import MapRules
from core.validity import Validity

# Attributes that are never stored as preferences because they shadow record data (R136).
RESERVED_ATTRIBUTES = frozenset({
    "UserID", "UserLogin", "UserPassword", "UserFirstname", "UserLastname", "UserFullname", "UserStreet",
    "UserCity", "UserZip", "UserCountry", "UserComment", "UserCustomerID", "UserTitle", "UserEmail",
    "ChangeTime", "ChangeBy", "CreateTime", "CreateBy", "UserPhone", "UserMobile", "UserFax",
    "UserMailString", "ValidID",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class ShownFields:
    """How a source shows its records: the attributes behind the list fields (R44; the e-mail one apart
    when it comes last) and the name fields (R64) with their join. Plain data, so cached records keep it."""

    listed: tuple[str, ...] = ()
    email: str | None = None
    named: tuple[str, ...] = ()
    join: str = " "

    def display(self, attributes: Mapping[str, Any]) -> str:
        """R44, without the reference's e-mail regex (W15): the e-mail field, if last, goes in <…>."""
        rest = " ".join([v for a in self.listed if (v := _text(attributes.get(a)))])
        email = _text(attributes.get(self.email)) if self.email else ""
        if email:
            return f'"{rest}" <{email}>' if rest else f"<{email}>"
        return rest

    def full_name(self, attributes: Mapping[str, Any]) -> str:
        """R64: the non-empty name fields joined by CustomerUserNameFieldsJoin."""
        return self.join.join([v for a in self.named if (v := _text(attributes.get(a)))])


@dataclass(frozen=True, slots=True)
class CustomerUserRecord:
    """One customer user as a source returned it, with the attributes of that source's Map.

    Its display string and full name are built when asked for: a search page builds hundreds of records
    and shows a few of them."""

    source: str
    login: str
    attributes: Mapping[str, Any]
    shown: ShownFields = field(default=ShownFields(), compare=False, repr=False)
    # What the source read with the record for its company and group rules (issue 37), so a matrix built
    # on it asks no second time: a shadow's stored results, or a live entry's rule attributes.
    rule_facts: Any = field(default=None, compare=False, repr=False)

    @property
    def display(self) -> str:
        return self.shown.display(self.attributes)

    @property
    def full_name(self) -> str:
        return self.shown.full_name(self.attributes)

    def __getitem__(self, attribute: str) -> Any:
        return self.attributes[attribute]

    def get(self, attribute: str, default: Any = None) -> Any:
        return self.attributes.get(attribute, default)

    @property
    def customer_id(self) -> str:
        return str(self.attributes.get("UserCustomerID") or "")

    @property
    def email(self) -> str:
        return str(self.attributes.get("UserEmail") or "")

    @property
    def valid_id(self) -> int:
        value = self.attributes.get("ValidID")
        return 1 if value in (None, "") else int(value)

    @property
    def validity_label(self) -> str:
        """The validity in words (valid, invalid, invalid-temporarily), in the reader's language."""
        return str(Validity(self.valid_id).label) if self.valid_id in Validity.values else str(self.valid_id)


SECRET_NAME = re.compile(r"(pw|password|passwd|secret|token)$", re.IGNORECASE)  # a key whose value is masked
MASK = "••••••"


def masked(key: str, value: Any) -> Any:
    """`value` with what must not be shown replaced by a mask: secret keys, a URL's password, `password=` in
    a DBI DSN; tables and lists masked all the way down."""
    if isinstance(value, Mapping):
        return {k: masked(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(key, v) for v in value]
    if SECRET_NAME.search(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        value = re.sub(r"(://[^:/@\s]*:)[^@/\s]+@", rf"\g<1>{MASK}@", value)
        value = re.sub(r"((?:password|pwd)=)[^;]*", rf"\g<1>{MASK}", value, flags=re.IGNORECASE)
    return value


@dataclass(frozen=True)
class SearchQuery:
    """One search; exactly one selector is honoured, by the precedence of R40."""

    term: str | None = None
    postmaster: str | None = None
    login: str | None = None
    customer_id: str | None = None
    customer_id_raw: str | None = None
    valid_only: bool = True
    limit: int | None = None
    # Ours, beyond R40 (the screens' search, customers.people_search): words (`*` a wildcard, `+` between
    # them) matched accent-blind over the search fields; a source that cannot fold accents finds nothing.
    folded: str | None = None

    @property
    def selector(self) -> tuple[str, str]:
        for name in ("term", "postmaster", "login", "customer_id", "customer_id_raw", "folded"):
            value = getattr(self, name)
            if value is not None:
                return name, value.strip() if name in ("term", "folded") else value
        raise ValueError("A search needs a term, postmaster e-mail, login or customer ID (R40).")


def login_order(record: CustomerUserRecord) -> tuple[str, str]:
    """The order records are listed in: by login, case-blind, then exactly."""
    return record.login.casefold(), record.login


@dataclass(frozen=True)
class SourceResult:
    """What one source found, in `login_order`; `has_more` says it stopped at its limit (never cut
    silently, W6)."""

    records: list[CustomerUserRecord]
    has_more: bool = False
    total: int | None = None  # when cheap to know


@dataclass(frozen=True)
class SourceStatus:
    alias: str
    reachable: bool
    detail: str = ""
    probe_ms: float | None = None
    count: int | None = None
    valid_count: int | None = None  # of them valid (R76's valid filter applied), exact like `count`
    count_complete: bool = True  # False: the server stopped counting, so `count` is "at least" (W6)
    extra: dict[str, Any] = field(default_factory=dict)


HEALTH_PROBE_LOGIN = "helpdesk-health-probe"


class BaseSource(ABC):
    """A customer-user source built from one SourceConfig; what it can do is stated in class attributes."""

    kind = "abstract"
    supports_write = True
    supports_password = True
    runs_inline = False  # True: asked in the caller's thread (it reads the project's own database)
    reads_own_table = False  # True: its customer users are rows of our own table (the importer writes there)
    storage_names_case_blind = False  # True: its storage names match whatever their case (LDAP, RFC 4512)
    hashes_passwords = True  # a refused password cost a slow hash here (False: a directory's bind did)
    supports_sync = False  # True: a local shadow can be synced from it (the directory lifecycle)
    supports_directory_rules = False  # True: CompanyRules and GroupRules apply to its entries
    folds_accents = False  # True: it answers a `folded` search (SearchQuery); otherwise it finds nothing
    # What a configuration that leaves these keys out gets from this kind of source (R11, R14).
    config_defaults: Mapping[str, Any] = {
        "CustomerUserSearchListLimit": 250, "AdminSetPreferences": 1, "CacheTTL": 86400, "ReadOnly": 0,
    }  # fmt: skip

    @classmethod
    def config_problems(cls, raw: Mapping[str, Any]) -> list[ConfigProblem]:
        """What is wrong with a configuration of this kind beyond the common keys (backends.config)."""
        return []

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.alias = config.alias

    @property
    def read_only(self) -> bool:
        return self.config.read_only or not self.supports_write

    def effective_config(self) -> dict[str, Any]:
        """Every key of this source as it takes effect — what was configured, else this kind's default, else
        the reference's — with secrets masked (passwords, and the password in a DSN): the Sources page."""
        raw = self.config.raw
        unused = (
            (() if self.supports_sync else SYNC_KEYS)
            + (() if self.supports_directory_rules else RULE_KEYS)
            + (() if getattr(self, "reads_own_table", False) else SCIM_KEYS)
        )
        keys = [*raw, *(key for key in SOURCE_KEYS if key not in raw and key not in unused)]
        shown: dict[str, Any] = {}
        for key in keys:
            value = raw.get(key)
            if value is None:
                value = self.config_defaults.get(key, SOURCE_KEYS.get(key))
            if key == "Map":
                value = [f"{row.attribute} ← {row.storage}" for row in self.config.map_rows]
            shown[key] = masked(key, value)
        return shown

    @property
    def sets_passwords(self) -> bool:
        """Whether a password can be set here: a writable source that keeps passwords. Every path that
        sets, generates or offers to change a password reads this."""
        return self.supports_password and not self.read_only

    # Reads. "Not found" is None; an unreachable backend raises SourceUnavailable.
    @abstractmethod
    def search(self, query: SearchQuery) -> SourceResult: ...

    @abstractmethod
    def get(self, login: str) -> CustomerUserRecord | None: ...

    def get_uncached(self, login: str) -> CustomerUserRecord | None:
        """`get` from the source itself, past `CacheTTL` (backends.cache): what a write is based on."""
        return self.get(login)

    def get_many(self, logins: Iterable[str]) -> dict[str, CustomerUserRecord]:
        """The records this source knows among `logins`, keyed by the casefolded login."""
        records = (self.get(login) for login in dict.fromkeys(logins))
        return {record.login.casefold(): record for record in records if record is not None}

    def iter_records(self, *, valid_only: bool = True) -> Iterator[CustomerUserRecord]:
        """Every customer user of the source, streamed (for exports)."""
        for login in self.iter_logins():
            record = self.get(login)
            if record is not None and (not valid_only or record.valid_id == 1):
                yield record

    @abstractmethod
    def iter_logins(self) -> Iterator[str]:
        """Every login of the source, invalid users included (for the conflicts report)."""

    @abstractmethod
    def list_customer_id_values(self, term: str | None, *, valid_only: bool = True) -> list[str]: ...

    # Writes: the skeleton every source shares (read-only refused, read-only Map rows kept, the Map's rules,
    # a login or e-mail address taken here); a source stores, and says what its storage allows.
    def refuse_if_read_only(self, login: str) -> None:
        if self.read_only:
            raise SourceReadOnly(alias=self.alias, login=login)

    def keep_read_only_rows(self, values: dict[str, Any], current: CustomerUserRecord) -> None:
        """A write never changes what the Map marks read-only: those values stay as they are."""
        for row in self.config.map_rows:
            if row.read_only and not row.is_password:
                values[row.attribute] = current.get(row.attribute)

    @cached_property
    def rules(self) -> MapRules:
        """The Map's value rules with the sizes this source's storage declares (backends.values)."""
        return MapRules(self.config, self.storage_size)

    def storage_size(self, row: MapRow) -> int | None:
        """How many characters the storage of a Map row holds; None where it declares none (a directory)."""
        return None

    def validate(
        self, values: Mapping[str, Any], existing: CustomerUserRecord | None
    ) -> dict[str, list[str]]:
        """Every problem this source finds with a record, without writing: the Map's rules, then a login
        or (with CustomerUserEmailUniqCheck, R56(5), R57) an e-mail address another user of this source
        holds, invalid users included; `existing` is the record an update replaces."""
        errors = self.rules.errors(values)
        if set(errors) - {"UserEmail"}:
            return errors
        login = str(values.get("UserLogin") or "")
        if login and (existing is None or login.casefold() != existing.login.casefold()) and self.get(login):
            errors.setdefault("UserLogin", []).append(login_taken_message(login))
        email = str(values.get("UserEmail") or "").strip()
        if (
            email
            and "UserEmail" not in errors
            and self.config.email_unique_check
            and (existing is None or email.casefold() != existing.email.casefold())
        ):
            self.lock_email(email)
            if self.email_taken(email, exclude_login=existing.login if existing else None):
                errors.setdefault("UserEmail", []).append(email_taken_message(email))
        return errors

    def lock_email(self, email: str) -> None:
        """Serialise concurrent writers of one address where the storage can (W9); a directory cannot."""
        return None

    @abstractmethod
    def email_taken(self, email: str, *, exclude_login: str | None) -> bool:
        """Whether another customer user of this source holds this address, compared case-blind."""

    @abstractmethod
    def add(
        self, attributes: Mapping[str, Any], *, acting_user: Any, password: str = ""
    ) -> CustomerUserRecord:
        """Add one customer user with its password (if given): all of it, or nothing when any part fails."""

    @abstractmethod
    def update(
        self, login: str, attributes: Mapping[str, Any], *, acting_user: Any
    ) -> CustomerUserRecord: ...

    @abstractmethod
    def set_password(self, login: str, password: str) -> None: ...

    @abstractmethod
    def check_password(self, login: str, password: str) -> bool | None:
        """True/False when this source knows the login; None when it does not."""

    @abstractmethod
    def status(self) -> SourceStatus: ...

    def ping(self) -> None:
        """Ask one cheap exact question (health checks); raise SourceUnavailable if the source cannot answer.

        Never cached (CachingSource passes it through), so it tells how the source is now.
        """
        self.get(HEALTH_PROBE_LOGIN)

    def directory_grants(self, record: CustomerUserRecord) -> tuple[list[Any], list[Any]]:
        """The companies and customer groups this source's rules give `record` (backends.ldap.rules), each
        with its reason; none where a source has no rules."""
        return [], []

    @property
    def derives_grants(self) -> bool:
        """Whether its rules give companies or groups (the permission answers then follow the directory)."""
        return False

    @property
    def grants_read_live(self) -> bool:
        """Whether those are read from the directory on every request (not kept where generations track)."""
        return False

    def generate_random_password(self, size: int = 8) -> str:
        alphabet = string.ascii_letters + string.digits
        return "".join(secrets.choice(alphabet) for _ in range(size))

    # Helpers shared by all sources: the Map turns stored values into a record.
    def make_record(
        self, login: str, attributes: dict[str, Any], rule_facts: Any = None
    ) -> CustomerUserRecord:
        return CustomerUserRecord(self.alias, login, attributes, self.shown_fields, rule_facts)

    @cached_property
    def shown_fields(self) -> ShownFields:
        """The list and name fields of this source's records, looked up in the Map once."""

        def attribute(storage: str) -> str | None:
            """The Map attribute of a storage name; a field outside the Map by its own name (the source
            reads it into the record)."""
            row = self.config.row_for_storage(storage)
            if row is None:
                return storage
            return None if row.is_password else row.attribute

        listed = tuple(attribute(s) for s in self.config.list_fields)
        email_row = self.config.row("UserEmail")
        email = None
        last = self.config.list_fields[-1] if self.config.list_fields else None
        if (
            listed
            and email_row is not None
            and last is not None
            and self.config.row_for_storage(last) is email_row
        ):
            listed, email = listed[:-1], listed[-1]
        named = tuple(attribute(s) for s in self.config.name_fields)
        return ShownFields(
            tuple(a for a in listed if a), email, tuple(a for a in named if a), self.config.name_fields_join
        )


def _text(value: Any) -> str:
    return value if value.__class__ is str else "" if value is None else str(value)


def split_customer_ids(value: Any) -> list[str]:
    """Split a legacy `UserCustomerIDs` value on any of `;`, `,`, `|`, dropping empty parts (W11)."""
    if value is None:
        return []
    values = value if isinstance(value, list | tuple) else [value]
    ids: list[str] = []
    for item in values:
        for part in str(item).replace(",", ";").replace("|", ";").split(";"):
            part = part.strip()
            if part and part not in ids:
                ids.append(part)
    return ids
