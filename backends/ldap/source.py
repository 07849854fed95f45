"""The `LDAP` source: customer users in a directory, read (and, when configured writable, written) through
the Map, whose storage names are LDAP attributes (R70–R80).

Reads go through python-ldap directly, not through django-ldapdb's query compiler: every read must AND the
administrator's raw `AlwaysFilter` and `CustomerUserValidFilter` (R74, R76), stop at a limit while paging
past the server's size limit (simple paged results), and bind as the user to check a password (R91);
django-ldapdb can express none of these. Writes go through a django-ldapdb model built from the Map.

Every value a caller supplies is escaped (RFC 4515) before it reaches a filter; only `*` stays a
wildcard where the reference makes it one (R72, R73). The two raw filters come from the configuration and
are checked for balanced syntax when the configuration is loaded (W5).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import string
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import ldap
from django.utils.translation import gettext as _
from ldap.controls import SimplePagedResultsControl
from ldap.filter import escape_filter_chars

from backends.base import (
    BaseSource,
    CustomerUserRecord,
    SearchQuery,
    SourceResult,
    SourceStatus,
    login_order,
)
from backends.config import MULTI_VALUED_ATTRIBUTES, ConfigProblem, MapRow, SourceConfig, truthy
from backends.errors import (
    CustomerUserInvalid,
    CustomerUserNotFound,
    SourceUnavailable,
    empty_password,
    summarize,
)
from backends.ldap.lifecycle import SyncSettings, sync_problems
from backends.ldap.rules import (
    Derived,
    DirectoryFacts,
    EntryRead,
    StoredGrants,
    apply_rules,
    group_closure,
    normal_dn,
    parse_rules,
    primary_company,
)
from backends.ldap.shadow import Shadow
from backends.ldap.sync import DirectoryReader
from backends.ldap.writes import Directory, write_entry
from backends.search import Expression, Term, UnparsableSearch, parse_search
from core.validity import Validity

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 500  # OpenLDAP's default size limit; Active Directory's MaxPageSize is 1000
DEFAULT_OBJECT_CLASSES = ("top", "person", "organizationalPerson", "inetOrgPerson")
PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_!@#$%^&*"  # R80


def ldap_uris(params: Mapping[str, Any]) -> list[str]:
    """`Host` as a name, a URI, or a list of them for fail-over; `Params.port` applies to bare names."""
    hosts = params.get("Host")
    hosts = [hosts] if isinstance(hosts, str) else list(hosts or ())
    port = (params.get("Params") or {}).get("port")
    uris = []
    for host in hosts:
        host = str(host).strip()
        if not host:
            continue
        if "://" in host:
            uris.append(host)
        else:
            uris.append(f"ldap://{host}:{port}" if port else f"ldap://{host}")
    return uris


def filter_syntax_problem(text: str) -> str | None:
    """A raw filter must be one parenthesised expression with balanced parentheses (RFC 4515 shape)."""
    text = text.strip()
    if not text:
        return None
    if not (text.startswith("(") and text.endswith(")")):
        return "must be enclosed in parentheses, e.g. (objectClass=inetOrgPerson)"
    depth = 0
    for index, char in enumerate(text):
        if char == "\\":
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0 or (depth == 0 and index != len(text) - 1):
            return "has unbalanced parentheses or more than one top-level expression"
    return None if depth == 0 else "has unbalanced parentheses"


def escape_pattern(pattern: str) -> str:
    """Escape everything but `*`, which stays a wildcard (R72); `**` is one wildcard, as in SQL, not the
    empty substring RFC 4515 forbids (measured: `**` in a postmaster look-up answered 500)."""
    return "*".join(escape_filter_chars(part) for part in re.sub(r"\*{2,}", "*", pattern).split("*"))


def _and(*filters: str) -> str:
    parts = [f for f in filters if f]
    if len(parts) == 1:
        return parts[0]
    return f"(&{''.join(parts)})"


def _or(filters: Iterable[str]) -> str:
    parts = list(filters)
    return parts[0] if len(parts) == 1 else f"(|{''.join(parts)})"


class LDAPSource(BaseSource):
    kind = "LDAP"
    storage_names_case_blind = True
    hashes_passwords = False  # the server checks a password by a bind, in a few milliseconds
    supports_sync = True
    supports_directory_rules = True
    config_defaults: Mapping[str, Any] = {
        "CustomerUserSearchListLimit": 200, "AdminSetPreferences": 0, "CacheTTL": 0, "ReadOnly": 1,
    }  # fmt: skip

    def __init__(self, config: SourceConfig) -> None:
        super().__init__(config)
        params = config.params
        self.uris = ldap_uris(params)
        self.base_dn = str(params["BaseDN"])
        self.scope = ldap.SCOPE_ONELEVEL if params.get("SSCOPE") == "one" else ldap.SCOPE_SUBTREE
        self.bind_dn = str(params.get("UserDN") or "")
        self.bind_pw = str(params.get("UserPw") or "")
        self.always_filter = str(params.get("AlwaysFilter") or "").strip()
        self.charset = str(params.get("SourceCharset") or "utf-8")
        self.group_dn = str(params.get("GroupDN") or "")
        self.start_tls = truthy(params.get("StartTLS"))
        self.ca_file = str(params.get("CAFile") or "")
        self.page_size = int(params.get("PageSize") or DEFAULT_PAGE_SIZE)
        options = params.get("Params") or {}
        self.timeout = float(options.get("timeout") or 10)
        self.version = int(options.get("version") or 3)
        self.object_classes = tuple(params.get("ObjectClasses") or DEFAULT_OBJECT_CLASSES)
        self._connection: ldap.ldapobject.LDAPObject | None = None
        self._suffix: str | None = None
        self.sync = SyncSettings.from_config(config.raw)
        self.shadow = Shadow(self) if self.sync.enabled else None
        self.company_rules, self.group_rules, _problems = parse_rules(config.raw)
        self.nested_groups = truthy(config.raw.get("NestedGroups"))
        self._attributes = sorted(
            {row.storage for row in config.map_rows if not row.is_password}
            | {config.customer_key, config.customer_id}
            | ({config.customer_valid} if config.customer_valid else set())
            | set(self.config.unmapped_shown_fields)
            | ({self.validity.storage} if self.validity is not None else set())
            | ({self.sync.disabled.attribute} if self.sync.disabled is not None else set())
        )

    @property
    def read_only(self) -> bool:
        """LDAP is read-only unless the source says `ReadOnly: 0` (R70; writable is beyond the reference)."""
        return self.config.read_only

    @classmethod
    def config_problems(cls, raw: Mapping[str, Any]) -> list[ConfigProblem]:
        params = raw.get("Params") or {}
        problems = []

        def problem(path: str, message: str, hint: str = "") -> None:
            problems.append(ConfigProblem(path, message, hint=hint, check_id="backends.E040"))

        if not ldap_uris(params):
            problem(
                "['Params']['Host']", "missing: a host name, an ldap:// or ldaps:// URI, or a list of them"
            )
        for uri in ldap_uris(params):
            if not uri.startswith(("ldap://", "ldaps://", "ldapi://")):
                problem("['Params']['Host']", f"{uri!r} is not an ldap://, ldaps:// or ldapi:// URI")
        base_dn = params.get("BaseDN")
        if not isinstance(base_dn, str) or not base_dn or not ldap.dn.is_dn(base_dn):
            problem("['Params']['BaseDN']", f"{base_dn!r} is not a distinguished name")
        if params.get("SSCOPE", "sub") not in ("one", "sub"):
            problem("['Params']['SSCOPE']", f"must be 'one' or 'sub', not {params.get('SSCOPE')!r}")
        if bool(params.get("UserDN")) != bool(params.get("UserPw")):
            problem(
                "['Params']['UserDN']", "UserDN and UserPw go together (or neither, for an anonymous bind)"
            )
        for key, path in (
            ("AlwaysFilter", "['Params']['AlwaysFilter']"),
            (None, "['CustomerUserValidFilter']"),
        ):
            text = params.get(key) if key else raw.get("CustomerUserValidFilter")
            message = filter_syntax_problem(str(text or ""))
            if message:
                problem(path, f"{text!r} {message}")
        options = params.get("Params") or {}
        if not isinstance(options, Mapping):
            problem("['Params']['Params']", "must be a table of port, timeout, version")
        else:
            for key in ("port", "timeout", "version"):
                value = options.get(key)
                if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                    problem(f"['Params']['Params'][{key!r}]", f"must be a number, not {value!r}")
        ca_file = params.get("CAFile")
        if ca_file and not os.path.isfile(str(ca_file)):
            problem("['Params']['CAFile']", f"{ca_file!r} is not a readable file")
        page_size = params.get("PageSize")
        if page_size is not None and (not isinstance(page_size, int) or page_size < 1):
            problem("['Params']['PageSize']", f"must be a whole number ≥ 1, not {page_size!r}")
        return problems + sync_problems(raw) + parse_rules(raw)[2]

    # ------------------------------------------------------------------------------------ connection
    def _connect(self, bind_dn: str | None = None, bind_pw: str | None = None) -> ldap.ldapobject.LDAPObject:
        """A new connection bound as the service account (or anonymously), or as `bind_dn` when given."""
        connection = ldap.initialize(" ".join(self.uris))  # libldap tries each URI in turn (fail-over)
        connection.set_option(ldap.OPT_PROTOCOL_VERSION, self.version)
        connection.set_option(ldap.OPT_REFERRALS, 0)
        connection.set_option(ldap.OPT_NETWORK_TIMEOUT, self.timeout)
        connection.set_option(ldap.OPT_TIMEOUT, self.timeout)
        if self.ca_file:
            connection.set_option(ldap.OPT_X_TLS_CACERTFILE, self.ca_file)
            connection.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
            connection.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # must come after the other TLS options
        if self.start_tls:
            connection.start_tls_s()
        if bind_dn is not None:
            connection.simple_bind_s(bind_dn, bind_pw or "")
        else:
            connection.simple_bind_s(self.bind_dn, self.bind_pw)
        return connection

    def _run(self, operation: str, call):
        """Run `call(connection)`, reconnecting once if the server dropped an idle connection."""
        for attempt in (1, 2):
            try:
                if self._connection is None:
                    self._connection = self._connect()
                return call(self._connection)
            except ldap.SERVER_DOWN as exc:
                self._connection = None
                if attempt == 2:
                    raise self._unavailable(operation, exc) from exc
            except (ldap.TIMEOUT, ldap.INVALID_CREDENTIALS, ldap.CONNECT_ERROR, ldap.OPERATIONS_ERROR) as exc:
                self._connection = None
                raise self._unavailable(operation, exc) from exc
            except ldap.NO_SUCH_OBJECT as exc:
                raise self._unavailable(operation, exc, f"base DN {self.base_dn!r} does not exist") from exc
        raise AssertionError("unreachable")

    def _unavailable(self, operation: str, exc: Exception, detail: str = "") -> SourceUnavailable:
        if not detail:
            info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
            detail = " ".join(str(info.get(k, "")) for k in ("desc", "info")).strip() or type(exc).__name__
        return SourceUnavailable(
            alias=self.alias, operation=operation, detail=f"{detail} ({', '.join(self.uris)})"
        )

    def _search(
        self, filterstr: str, limit: int | None, attributes: list[str] | None = None, *, base: str = ""
    ):
        """Entries matching `filterstr` under BaseDN (or the whole subtree of `base`), paged past the
        server's size limit; at most `limit + 1` when a limit is given, so the caller can tell that more
        exist (W6).

        Returns (entries, complete): `complete` is False when the server cut the answer itself.
        """
        wanted = None if limit is None else limit + 1

        def run(connection):
            entries: list[tuple[str, dict[str, list[bytes]]]] = []
            control = SimplePagedResultsControl(
                True, size=min(self.page_size, wanted or self.page_size), cookie=""
            )
            while True:
                msgid = connection.search_ext(
                    base or self.base_dn, ldap.SCOPE_SUBTREE if base else self.scope, filterstr,
                    attributes or self._attributes, serverctrls=[control],
                )  # fmt: skip
                try:
                    _, data, _, controls = connection.result3(msgid, timeout=self.timeout)
                except ldap.SIZELIMIT_EXCEEDED:
                    logger.warning("LDAP source %s: the server's size limit cut a paged search", self.alias)
                    return entries, False
                entries.extend((dn, attrs) for dn, attrs in data if dn is not None)
                if wanted is not None and len(entries) >= wanted:
                    return entries[:wanted], True
                cookie = next((c.cookie for c in controls if c.controlType == control.controlType), b"")
                if not cookie:
                    return entries, True
                control.cookie = cookie

        return self._run("search", run)

    # ------------------------------------------------------------------------------------- filters
    def _with_fixed_filters(self, filterstr: str, *, valid: bool) -> str:
        """R74's AlwaysFilter, and for searches R76's valid filter with the disabled preset's entries left
        out (a disabled account is not valid, whatever the administrator's filter says)."""
        return _and(self.always_filter, self.valid_filter if valid else "", filterstr)

    @cached_property
    def valid_filter(self) -> str:
        preset = self.sync.disabled
        return _and(self.config.valid_filter.strip(), f"(!{preset.filter})" if preset is not None else "")

    def _term_filter(self, term: Term) -> str:
        pattern = escape_pattern(term.pattern(self.config.search_prefix, self.config.search_suffix))
        either = _or(f"({field}={pattern})" for field in self.config.search_fields)
        return f"(!{either})" if term.negated else either

    def _expression_filter(self, expression: Expression) -> str:
        return _or(_and(*(self._term_filter(t) for t in group)) for group in expression)

    def _selector_filter(self, query: SearchQuery) -> str:
        name, value = query.selector
        config = self.config
        if name == "term":
            return self._expression_filter(parse_search(value))
        if name == "postmaster":
            # R73: `*` is a wildcard here (unlike the DB source); everything else is escaped.
            return _or(f"({field}={escape_pattern(value)})" for field in config.postmaster_search_fields)
        if name == "login":
            # Exact unless the caller writes `*`, as in the DB source (W2).
            pattern = escape_pattern(value) if "*" in value else escape_filter_chars(value)
            return f"({config.customer_key}={pattern})"
        if name == "customer_id":
            return f"({config.customer_id}={escape_pattern(value)})"
        return f"({config.customer_id}={escape_filter_chars(value)})"  # customer_id_raw: exact (R73)

    # ---------------------------------------------------------------------------------------- reads
    # A synced source reads its shadow once a full sync has written it (backends.ldap.shadow); logins and
    # password checks always ask the directory.
    def _serving_shadow(self) -> bool:
        return self.shadow is not None and self.shadow.serving()

    @property
    def runs_inline(self) -> bool:
        """A source served from its shadow reads the project's database: in the caller's thread."""
        return self._serving_shadow()

    @property
    def folds_accents(self) -> bool:
        """A directory compares by its matching rules (caseIgnoreMatch keeps accents); its shadow folds."""
        return self._serving_shadow() and self.shadow.folds_accents

    def search(self, query: SearchQuery) -> SourceResult:
        if self._serving_shadow():
            return self.shadow.search(query)
        if query.selector[0] == "folded":
            return SourceResult(records=[], total=0)
        limit = query.limit or self.config.search_list_limit
        try:
            selector = self._selector_filter(query)
        except UnparsableSearch:
            return SourceResult(records=[])
        # R76: the valid filter always applies to searches.
        entries, complete = self._search(self._with_fixed_filters(selector, valid=True), limit)
        records = self._records(entries)
        records = self._only_group_members(records)
        records.sort(key=login_order)
        return SourceResult(records=records[:limit], has_more=len(entries) > limit or not complete)

    def get(self, login: str) -> CustomerUserRecord | None:
        if self._serving_shadow():
            return self.shadow.get(login)
        record = self.live_get(login)
        return self.with_primary_company(record) if record is not None else None

    def live_get(self, login: str) -> CustomerUserRecord | None:
        """R76: data get never applies the valid filter; the AlwaysFilter does apply (R74). With company or
        group rules, what they read comes along (one read of the entry, not two)."""
        if not login:
            return None
        filterstr = self._with_fixed_filters(
            f"({self.config.customer_key}={escape_filter_chars(login)})", valid=False
        )
        extra = [*self.rule_attributes, "memberOf"] if self.derives_grants else []
        entries, _ = self._search(filterstr, 1, [*self._attributes, *extra] if extra else None)
        records = self._records(entries[:1])
        if not records:
            return None
        if not extra:
            return records[0]
        record, attrs = records[0], entries[0][1]
        read = EntryRead(
            dn=str(record.get("DN")),
            values={
                name: tuple(self._decode(v) for v in _values(attrs, name)) for name in self.rule_attributes
            },
            member_of=tuple(self._decode(v) for v in _values(attrs, "memberOf")),
        )
        return self.make_record(record.login, record.attributes, read)

    def get_many(self, logins: Iterable[str]) -> dict[str, CustomerUserRecord]:
        if self._serving_shadow():
            return self.shadow.get_many(logins)
        logins = list(dict.fromkeys(login for login in logins if login))
        found: dict[str, CustomerUserRecord] = {}
        for start in range(0, len(logins), 200):
            chunk = logins[start : start + 200]
            either = _or(f"({self.config.customer_key}={escape_filter_chars(login)})" for login in chunk)
            entries, _ = self._search(self._with_fixed_filters(either, valid=False), None)
            found.update({record.login.casefold(): record for record in self._records(entries)})
        return found

    def list_customer_id_values(self, term: str | None, *, valid_only: bool = True) -> list[str]:
        """R62/R76: distinct primary customer IDs; the valid filter applies only when asked for."""
        if self._serving_shadow():
            return self.shadow.list_customer_id_values(term, valid_only=valid_only)
        condition = f"({self.config.customer_id}=*)"
        if term:
            try:
                expression = parse_search(term)
            except UnparsableSearch:
                return []
            condition = _and(condition, _or(
                _and(*(f"({self.config.customer_id}={escape_pattern(t.text)})" for t in group))
                for group in expression
            ))  # fmt: skip
        entries, _ = self._search(self._with_fixed_filters(condition, valid=valid_only), None,
                                  [self.config.customer_id])  # fmt: skip
        values = {self._first(attrs, self.config.customer_id) for _, attrs in entries}
        return sorted((v for v in values if v), key=str.casefold)

    def iter_records(self, *, valid_only: bool = True) -> Iterator[CustomerUserRecord]:
        if self._serving_shadow():
            yield from self.shadow.iter_records(valid_only=valid_only)
            return
        condition = self._with_fixed_filters(f"({self.config.customer_key}=*)", valid=valid_only)
        entries, _ = self._search(condition, None)
        yield from sorted(self._records(entries), key=login_order)

    def iter_logins(self) -> Iterator[str]:
        if self._serving_shadow():
            yield from self.shadow.iter_logins()
            return
        entries, _ = self._search(self._with_fixed_filters(f"({self.config.customer_key}=*)", valid=False),
                                  None, [self.config.customer_key])  # fmt: skip
        for _, attrs in entries:
            login = self._first(attrs, self.config.customer_key)
            if login:
                yield login

    def count(self, *, valid_only: bool = False) -> tuple[int, bool]:
        """Every entry the source can see (or only the valid ones, R76), counted through paged results
        (DNs only, no attributes), and whether the count is complete: a server whose limits cut paged
        results too (an anonymous size limit) gives a lower bound, said as such (W6)."""
        if self._serving_shadow():
            return self.shadow.count(valid_only=valid_only), True
        entries, complete = self._search(
            self._with_fixed_filters(f"({self.config.customer_key}=*)", valid=valid_only), None, ["1.1"]
        )
        return len(entries), complete

    def status(self) -> SourceStatus:
        started = time.perf_counter()
        try:
            self._search(self._with_fixed_filters(f"({self.config.customer_key}=probe)", valid=False), 1)
            probe_ms = (time.perf_counter() - started) * 1000
            count, complete = self.count()
            valid_count, valid_complete = self.count(valid_only=True) if self.config.valid_filter.strip() \
                else (count, complete)  # fmt: skip
            return SourceStatus(self.alias, True, probe_ms=probe_ms, count=count, valid_count=valid_count,
                                count_complete=complete and valid_complete,
                                extra={"uris": self.uris, "base_dn": self.base_dn})  # fmt: skip
        except SourceUnavailable as exc:
            return SourceStatus(self.alias, False, detail=exc.message)

    # --------------------------------------------------------------------------- entries → records
    def _decode(self, value: bytes) -> str:
        return value.decode(self.charset, errors="replace")  # R79

    def _first(self, attrs: Mapping[str, list[bytes]], name: str) -> str:
        """R78: the first value of a (possibly multi-valued) attribute; attribute names are case-blind."""
        return self._first_of(_values(attrs, name), name)

    def _first_of(self, values: list[bytes] | tuple[()], name: str) -> str:
        value = self._decode(values[0]) if values else ""
        if name.lower() == "targetaddress" and value.upper().startswith("SMTP:"):
            value = value[5:]
        return value

    @cached_property
    def _record_plan(self) -> tuple[tuple[tuple[str, str, str], ...], tuple[str, ...]]:
        """Each readable Map row as (attribute, lower-cased storage, how it is read: `multi`, `int`,
        `address` (targetAddress, R78) or `text`), and the lower-cased list and name fields outside the Map,
        looked up once."""

        def how(row: MapRow) -> str:
            if row.attribute in MULTI_VALUED_ATTRIBUTES:
                return "multi"
            if row.storage_type == "int":
                return "int"
            return "address" if row.storage.lower() == "targetaddress" else "text"

        rows = tuple((row.attribute, row.storage.lower(), how(row)) for row in self.config.map_rows
                     if not row.is_password)  # fmt: skip
        return rows, tuple(name.lower() for name in self.config.unmapped_shown_fields)

    def _records(self, entries: list[tuple[str, dict[str, list[bytes]]]]) -> list[CustomerUserRecord]:
        rows, unmapped = self._record_plan
        config = self.config
        key, customer_id = config.customer_key.lower(), config.customer_id.lower()
        valid = config.customer_valid.lower() if config.customer_valid else ""
        validity = self.validity
        charset = self.charset
        disabled = self.sync.disabled
        disabled_storage = disabled.attribute.lower() if disabled is not None else ""
        records = []
        for dn, entry in entries:
            attrs = {name.lower(): values for name, values in entry.items()}  # names are case-blind (R78)
            login = self._first_of(attrs.get(key, ()), key)
            if not login:
                continue
            attributes: dict[str, Any] = {}
            for attribute, storage, kind in rows:
                values = attrs.get(storage, ())
                if kind == "text":  # the common case, inline: a page reads thousands of these
                    attributes[attribute] = values[0].decode(charset, "replace") if values else ""
                elif kind == "multi":
                    attributes[attribute] = ";".join(self._decode(v) for v in values)
                else:
                    value = self._first_of(values, storage)
                    if kind == "int":
                        value = int(value) if value.strip().lstrip("+-").isdigit() else 0
                    attributes[attribute] = value
            attributes["UserLogin"] = attributes.get("UserLogin") or login
            attributes["UserID"] = login
            attributes["UserCustomerID"] = self._first_of(attrs.get(customer_id, ()), customer_id)
            if valid:
                value = self._first_of(attrs.get(valid, ()), valid)
                attributes["ValidID"] = int(value) if value.isdigit() else 1
            elif validity is not None and validity.kind == "filter":
                marked = {
                    v.decode(charset, "replace").casefold() for v in attrs.get(validity.storage.lower(), ())
                }
                attributes["ValidID"] = Validity.INVALID if validity.value.casefold() in marked else 1
            if disabled is not None and disabled.reason(
                [v.decode(charset, "replace") for v in attrs.get(disabled_storage, ())]
            ):
                attributes["ValidID"] = Validity.INVALID  # the directory disabled it: no login, not valid
            attributes["DN"] = dn
            for name, lowered in zip(config.unmapped_shown_fields, unmapped, strict=True):
                attributes.setdefault(name, self._first_of(attrs.get(lowered, ()), lowered))
            records.append(self.make_record(login, attributes))
        if config.raw.get("TranslateManagerTo"):
            records = [self._translate_manager(r) for r in records]
        return records

    def _translate_manager(self, record: CustomerUserRecord) -> CustomerUserRecord:
        """R78: a `manager` DN is replaced by an attribute of the referenced entry."""
        row = self.config.row_for_storage("manager")
        manager_dn = record.get(row.attribute) if row else ""
        if not manager_dn:
            return record
        target = str(self.config.raw["TranslateManagerTo"])

        def read(connection):
            try:
                return connection.search_s(manager_dn, ldap.SCOPE_BASE, "(objectClass=*)", [target])
            except ldap.NO_SUCH_OBJECT:
                return []

        found = self._run("get", read)
        if found:
            attributes = {**record.attributes, row.attribute: self._first(found[0][1], target)}
            return self.make_record(record.login, attributes)
        return record

    def _only_group_members(self, records: list[CustomerUserRecord]) -> list[CustomerUserRecord]:
        """R75: with GroupDN, only logins that are a memberUid under it; one escaped query (W4)."""
        if not self.group_dn or not records:
            return records
        either = _or(f"(memberUid={escape_filter_chars(r.login)})" for r in records)

        def read(connection):
            return connection.search_s(self.group_dn, ldap.SCOPE_SUBTREE, either, ["memberUid"])

        members = {
            self._decode(v).casefold()
            for _, attrs in self._run("search", read)
            for v in _values(attrs, "memberUid")
        }
        return [r for r in records if r.login.casefold() in members]

    # --------------------------------------------------------------------------------------- writes
    def add(
        self, attributes: Mapping[str, Any], *, acting_user: Any, password: str = ""
    ) -> CustomerUserRecord:
        """The entry, then its password by Password Modify (the server hashes it); an entry whose password
        could not be set is removed again, so a failed add leaves nothing."""
        login = str(attributes.get("UserLogin") or "").strip()
        self.refuse_if_read_only(login)
        errors = self.validate(attributes, existing=None)
        if errors:
            raise CustomerUserInvalid(errors, login=login, summary=summarize(errors))
        write_entry(self.directory, None, self._entry_values(attributes))
        record = self.live_get(login)
        if password:
            try:
                self._run(
                    "set_password", lambda connection: connection.passwd_s(record.get("DN"), None, password)
                )
            except BaseException:
                self._run("add", lambda connection: connection.delete_s(record.get("DN")))
                raise
        return self._written(record.login)

    def update(self, login: str, attributes: Mapping[str, Any], *, acting_user: Any) -> CustomerUserRecord:
        self.refuse_if_read_only(login)
        current = self.live_get(login)
        if current is None:
            raise CustomerUserNotFound(login=login)
        values = dict(attributes)
        self.keep_read_only_rows(values, current)
        errors = self.validate(values, existing=current)
        if errors:
            raise CustomerUserInvalid(errors, login=login, summary=summarize(errors))
        write_entry(self.directory, current.get("DN"), self._entry_values(values, current))
        return self._written(str(values.get("UserLogin") or login))

    def _written(self, login: str) -> CustomerUserRecord:
        """The entry as the directory now holds it; a synced source's shadow takes it at once (the
        directory first, then the shadow), so the next read sees the write."""
        if self.shadow is not None:
            row = DirectoryReader(self).entry(login)
            if row is not None:
                self.shadow.upsert([row], run=None)
        return self.live_get(login)

    def set_password(self, login: str, password: str) -> None:
        """The server hashes it: the Password Modify extended operation (RFC 3062)."""
        self.refuse_if_read_only(login)
        if not password:
            raise empty_password(login)
        record = self.live_get(login)
        if record is None:
            raise CustomerUserNotFound(login=login)
        self._run("set_password", lambda connection: connection.passwd_s(record.get("DN"), None, password))

    def check_password(self, login: str, password: str) -> bool | None:
        """R91: find the entry by login (with the AlwaysFilter), then bind as it with the password."""
        login = (login or "").strip()
        if not login:
            return None
        record = self.live_get(login)  # never the shadow: a disabled or gone entry is refused at once
        if record is None:
            return None
        if not password or self._disabled(record):
            return False  # as the directory's own policy answers a disabled account's bind
        try:
            self._connect(record.get("DN"), password).unbind_s()
        except ldap.INVALID_CREDENTIALS:
            return False
        except (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR) as exc:
            raise self._unavailable("check_password", exc) from exc
        return True

    def _disabled(self, record: CustomerUserRecord) -> bool:
        """Whether the directory disabled this (live) entry, by the source's DisabledPreset."""
        preset = self.sync.disabled
        if preset is None:
            return False
        connection_values = self._run("get", lambda c: c.search_s(
            record.get("DN"), ldap.SCOPE_BASE, "(objectClass=*)", [preset.attribute]))  # fmt: skip
        values = [self._decode(v) for _, attrs in connection_values for v in _values(attrs, preset.attribute)]
        return bool(preset.reason(values))

    # ------------------------------------------------------------------------- companies and groups
    @cached_property
    def rule_attributes(self) -> list[str]:
        """The attributes `From = "attribute"` rules read."""
        rules = (*self.company_rules, *self.group_rules)
        return sorted({rule.attribute for rule in rules if rule.source == "attribute"})

    @cached_property
    def reads_groups(self) -> bool:
        return any(rule.source == "group" for rule in (*self.company_rules, *self.group_rules))

    def directory_facts(self, login: str, record: CustomerUserRecord | None = None) -> DirectoryFacts | None:
        """What the company and group rules read about `login`'s entry, from the directory now (or from
        what `record`'s live read took along): its DN, its groups (groupOfNames/groupOfUniqueNames members,
        posixGroup memberUid, memberOf where kept; with NestedGroups the groups of those groups, to
        NESTING_DEPTH, a cycle ending where it began), the values of the attributes rules name, and its
        e-mail address."""
        if record is None or not isinstance(record.rule_facts, EntryRead):
            record = self.live_get(login)
        if record is None:
            return None
        read: EntryRead = record.rule_facts
        groups: set[str] = set()
        if self.reads_groups:
            groups = self._groups_of(read.dn, record.login, list(read.member_of))
        return DirectoryFacts(dn=read.dn, groups=frozenset(groups), values=read.values, email=record.email)

    def _groups_of(self, dn: str, login: str, member_of: list[str]) -> set[str]:
        base = self.suffix()

        def containing(filterstr: str) -> set[str]:
            found = self._run("search", lambda c: c.search_s(base, ldap.SCOPE_SUBTREE, filterstr, ["1.1"]))
            return {normal_dn(group) for group, _ in found if group}

        def parents(groups: set[str]) -> set[str]:
            either = "".join(f"(member={escape_filter_chars(g)})(uniqueMember={escape_filter_chars(g)})"
                             for g in sorted(groups))  # fmt: skip
            return containing(f"(|{either})")

        direct = containing(f"(|(member={escape_filter_chars(dn)})(uniqueMember={escape_filter_chars(dn)})"
                            f"(memberUid={escape_filter_chars(login)}))")  # fmt: skip
        return group_closure(direct | {normal_dn(g) for g in member_of}, parents, self.nested_groups)

    def suffix(self) -> str:
        """The naming context BaseDN lies in (groups live beside the people, not under them; the database's
        contextCSN is kept there), asked once per source object: a server does not move its suffix."""
        if self._suffix is None:
            base = self.base_dn.lower()
            root = self._run(
                "search", lambda c: c.search_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["namingContexts"])
            )
            contexts = [self._decode(v) for _, attrs in root for v in _values(attrs, "namingContexts")]
            self._suffix = max(
                (c for c in contexts if base.endswith(c.lower())), key=len, default=self.base_dn
            )
        return self._suffix

    @property
    def derives_grants(self) -> bool:
        return bool(self.company_rules or self.group_rules)

    @property
    def grants_read_live(self) -> bool:
        """Whether a person's derived companies and groups are read from the directory on each request (a
        synced source's come from its shadow, which a run changes with the generations)."""
        return self.derives_grants and not self._serving_shadow()

    def directory_grants(self, record: CustomerUserRecord) -> tuple[list[Derived], list[Derived]]:
        """From the shadow a sync wrote, else from the directory now (a group change counts on the next
        request)."""
        if not self.derives_grants:
            return [], []
        if self._serving_shadow():
            stored = record.rule_facts
            if not isinstance(stored, StoredGrants):
                stored = self.shadow.derived(record.login)
            return list(stored.companies), list(stored.groups)
        return self.derive(record.login, record) or ([], [])

    def derive(
        self, login: str, record: CustomerUserRecord | None = None
    ) -> tuple[list[Derived], list[Derived]] | None:
        """The companies and customer groups the rules give `login` now (each with its reason), or None when
        the directory does not hold the login."""
        facts = self.directory_facts(login, record)
        if facts is None:
            return None
        return self.apply_rules(facts)

    def apply_rules(self, facts: DirectoryFacts) -> tuple[list[Derived], list[Derived]]:
        return apply_rules(self.company_rules, facts), apply_rules(self.group_rules, facts)

    def with_primary_company(self, record: CustomerUserRecord) -> CustomerUserRecord:
        """The record with the company of a rule marked `Primary` as its primary customer ID (read live for
        one person; a synced source's shadow holds it already)."""
        if not any(rule.primary for rule in self.company_rules) or self._serving_shadow():
            return record
        primary = primary_company(self.directory_grants(record)[0])
        if not primary or primary == record.customer_id:
            return record
        return self.make_record(
            record.login, {**record.attributes, "UserCustomerID": primary}, record.rule_facts
        )

    def generate_random_password(self, size: int = 8) -> str:
        return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(size))

    def _entry_values(
        self, values: Mapping[str, Any], current: CustomerUserRecord | None = None
    ) -> dict[str, list[str]]:
        """LDAP attribute → values for every writable Map row; multi-valued rows split on `;`.

        `cn`, which person entries must have, is the full name (R64) unless the Map writes it itself.
        """
        entry: dict[str, list[str]] = {}
        if self.config.row_for_storage("cn") is None:
            entry["cn"] = [self.shown_fields.full_name(values) or str(values.get("UserLogin") or "")]
        for row in self.config.map_rows:
            if row.is_password or row.storage in entry:
                continue
            value = values.get(row.attribute)
            text = "" if value is None else str(value).strip()
            if row.attribute in MULTI_VALUED_ATTRIBUTES:
                entry[row.storage] = [part.strip() for part in text.split(";") if part.strip()]
            else:
                entry[row.storage] = [text] if text else []
        validity, wanted = self.validity, values.get("ValidID")
        if validity is not None and validity.kind != "map" and wanted not in (None, ""):
            invalid = int(wanted) != Validity.VALID
            if validity.kind == "attribute":
                entry[validity.storage] = [str(int(wanted))]
            elif invalid:
                entry[validity.storage] = [validity.value]
            elif current is not None and current.valid_id != Validity.VALID:
                entry[validity.storage] = []  # valid again: the mark goes
        return entry

    @cached_property
    def directory(self) -> Directory:
        """Where writes go: the entries' attributes are the Map's (multi-valued where R-rules say so), `cn`
        unless the Map writes it, and the attribute validity is kept in, when it is outside the Map."""
        columns = [] if self.config.row_for_storage("cn") else [("cn", False)]
        for row in self.config.map_rows:
            if not row.is_password and row.storage not in dict(columns):
                columns.append((row.storage, row.attribute in MULTI_VALUED_ATTRIBUTES))
        if self.validity is not None and self.validity.storage not in dict(columns):
            columns.append((self.validity.storage, False))
        return Directory(
            alias=self.alias, fingerprint=self.config.fingerprint, base_dn=self.base_dn,
            object_classes=self.object_classes, key=self.config.customer_key, columns=tuple(columns),
            uris=tuple(self.uris), bind_dn=self.bind_dn, bind_pw=self.bind_pw, start_tls=self.start_tls,
            ca_file=self.ca_file, timeout=self.timeout,
        )  # fmt: skip

    @cached_property
    def validity(self) -> DirectoryValidity | None:
        """Where this directory keeps a customer user's validity, for reads and writes (R76, W-difference):
        a ValidID Map row; else the `CustomerValid` attribute (a number); else a `CustomerUserValidFilter`
        of the form `(!(attribute=value))`, whose value marks an invalid entry; else nowhere."""
        row = self.config.row("ValidID")
        if row is not None:
            return DirectoryValidity("map", row.storage)
        if self.config.customer_valid:
            return DirectoryValidity("attribute", self.config.customer_valid)
        marked = _NEGATED_EQUALITY.match(self.config.valid_filter.strip())
        if marked:
            return DirectoryValidity("filter", marked["attribute"], unescape_filter_value(marked["value"]))
        return None

    def validate(
        self, values: Mapping[str, Any], existing: CustomerUserRecord | None
    ) -> dict[str, list[str]]:
        """The skeleton's checks (BaseSource.validate), and a validity this directory cannot keep."""
        errors = super().validate(values, existing)
        wanted = values.get("ValidID")
        if self.validity is None and wanted not in (None, "") and str(wanted).strip() != str(Validity.VALID):
            errors["ValidID"] = [
                _(
                    "Source %(alias)s keeps no validity (no ValidID Map row, no CustomerValid, no"
                    " CustomerUserValidFilter of the form (!(attribute=value))): make the person invalid"
                    " in the directory."
                )
                % {"alias": self.alias}
            ]
        return errors

    def email_taken(self, email: str, *, exclude_login: str | None) -> bool:
        """R56(5), R57: the Map's e-mail attribute, whole value, case-blind (an equality match on `mail` is
        case-blind by its schema), over every entry of the source, disabled ones too."""
        row = self.config.row("UserEmail")
        if row is None:
            return False
        condition = self._with_fixed_filters(f"({row.storage}={escape_filter_chars(email)})", valid=False)
        entries, _ = self._search(condition, 2, [self.config.customer_key])
        logins = {
            login.casefold()
            for login in (self._first(attrs, self.config.customer_key) for _, attrs in entries)
        }
        logins.discard((exclude_login or "").casefold())
        return bool(logins)


@dataclass(frozen=True)
class DirectoryValidity:
    """Where a directory keeps validity: `kind` map | attribute | filter, the LDAP attribute, and for
    `filter` the value that marks an entry invalid."""

    kind: str
    storage: str
    value: str = ""


_NEGATED_EQUALITY = re.compile(  # (!(attribute=value)), the value without wildcards, escapes allowed
    r"^\(!\((?P<attribute>[A-Za-z][\w-]*)=(?P<value>(?:[^()*\\]|\\[0-9a-fA-F]{2})+)\)\)$"
)


def unescape_filter_value(value: str) -> str:
    """An assertion value of a filter as text (RFC 4515's backslash-hex escapes)."""
    return re.sub(r"\\([0-9a-fA-F]{2})", lambda m: chr(int(m[1], 16)), value)


def _values(attrs: Mapping[str, list[bytes]], name: str) -> list[bytes]:
    if name in attrs:
        return attrs[name]
    lowered = name.lower()
    return next((v for k, v in attrs.items() if k.lower() == lowered), [])
