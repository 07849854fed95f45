"""The local shadow of a synced directory source: its second read plan, and where a sync's rows are written.

A synced source reads searches, counts, listings and data gets from here once a full sync has written the
shadow with the source's present configuration; logins and password checks still go to the directory.
The semantics are the live source's (R43 grammar over `CustomerUserSearchFields` with the prefix and
suffix, R73's postmaster wildcards, R75's GroupDN and R76's valid filter on searches only, the list limit
with "more match"), with one difference: an entry gone from the directory stays, invalid (see
docs/differences.md), and so does a disabled one when invalid users are asked for.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import reduce
from json import loads
from operator import and_, or_
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, connection
from django.db.models import F, Q, TextField
from django.db.models.functions import Cast, Lower

from backends.base import CustomerUserRecord, SearchQuery, SourceResult, login_order
from backends.errors import SourceUnavailable
from backends.folding import fold
from backends.ldap.rules import StoredGrants
from backends.models import ShadowEntry, ShadowValue, SyncState
from backends.search import Expression, UnparsableSearch, parse_search
from backends.sql.lookups import Like, like_pattern
from core.validity import Validity

if TYPE_CHECKING:
    from backends.ldap.source import LDAPSource

SEPARATOR = "\u241f"  # ␟ between the values of a key, as in the DB source's search key
READY_SECONDS = 5.0  # how long a process trusts its answer to "is the shadow serving?" (a miss reads live)
# Keys whose change leaves the shadow's rows as they are (they act when a query runs, or not on reads).
UNREAD_KEYS = frozenset({
    "Name", "Sync", "SyncSchedule", "SyncIncrementalSchedule", "SyncGuardPercent", "Timeout", "RetryAfter",
    "CacheTTL", "CustomerUserSearchListLimit", "CustomerUserSearchPrefix", "CustomerUserSearchSuffix",
    "ReadOnly", "AdminSetPreferences", "CustomerCompanySupport", "CustomerGroupSupport", "Selections",
    "AutoLoginCreation", "AutoLoginCreationPrefix", "CustomerUserEmailUniqCheck",
    "CustomerUserExcludePrimaryCustomerID",
})  # fmt: skip


def shadow_fingerprint(raw: Mapping[str, Any]) -> str:
    """What the shadow's rows depend on: the configuration without the keys that do not shape them (and
    without the service account's password): a shadow written under another one does not serve."""
    kept = {k: v for k, v in raw.items() if k not in UNREAD_KEYS}
    params = dict(kept.get("Params") or {})
    params.pop("UserPw", None)
    params.pop("Params", None)
    kept["Params"] = params
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def key_of(values: Iterable[str]) -> str:
    """`␟v1␟v2␟…␟`, lower-cased: a value matches a pattern iff the key holds `␟value␟`."""
    parts = [v.replace(SEPARATOR, " ").lower() for v in values if v]
    return f"{SEPARATOR}{SEPARATOR.join(parts)}{SEPARATOR}" if parts else ""


@dataclass(frozen=True)
class ShadowRow:
    """One entry as the shadow keeps it; `digest` tells a changed entry from an unchanged one."""

    identity: str
    dn: str
    login: str
    customer_id: str
    attributes: dict[str, Any]
    search_key: str
    postmaster_key: str
    valid_id: int
    listed: bool
    disabled: str
    derived: dict[str, Any] = field(default_factory=dict)  # what the rules give: {"companies", "groups"}
    facts: dict[str, Any] = field(default_factory=dict)  # what they read beyond the attributes

    @property
    def digest(self) -> str:
        data = [self.dn, self.login, self.customer_id, self.attributes, self.search_key, self.postmaster_key,
                self.valid_id, self.listed, self.disabled, self.derived, self.facts]  # fmt: skip
        return hashlib.md5(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()

    def model(self, source: str, run: int | None) -> ShadowEntry:
        return ShadowEntry(
            source=source, identity=self.identity, dn=self.dn, login=self.login, customer_id=self.customer_id,
            attributes=self.attributes, search_key=self.search_key, folded_key=fold(self.search_key),
            postmaster_key=self.postmaster_key,
            valid_id=self.valid_id, listed=self.listed, disabled=self.disabled, present=True,
            derived=self.derived, facts=self.facts, digest=self.digest, run=run,
        )  # fmt: skip


UPSERTED = ["dn", "login", "customer_id", "attributes", "search_key", "folded_key", "postmaster_key",
            "valid_id", "listed", "disabled", "present", "derived", "facts", "digest", "run"]  # fmt: skip


class Shadow:
    """The shadow of one source: reads as the live source answers them, and the writes a sync makes."""

    def __init__(self, source: LDAPSource) -> None:
        self.source = source
        self.alias = source.alias
        self.config = source.config
        self.fingerprint = shadow_fingerprint(source.config.raw)
        self._ready_at = 0.0
        self._ready = False

    # ------------------------------------------------------------------------------------------ state
    def serving(self) -> bool:
        """Whether reads come from here: a full sync wrote it under this configuration."""
        now = time.monotonic()
        if now - self._ready_at > READY_SECONDS:
            try:
                fingerprint = (
                    SyncState.objects.filter(source=self.alias, last_full__isnull=False)
                    .values_list("fingerprint", flat=True)
                    .first()
                )
            except DatabaseError:
                fingerprint = None  # no table yet (before migrate): the directory answers
            self._ready, self._ready_at = fingerprint == self.fingerprint, now
        return self._ready

    def forget_serving(self) -> None:
        self._ready_at = 0.0

    def _rows(self):
        return ShadowEntry.objects.filter(source=self.alias)

    # ------------------------------------------------------------------------------------------ reads
    def _record(
        self, login: str, attributes: dict[str, Any] | str, valid_id: int, derived: dict | None = None
    ) -> CustomerUserRecord:
        grants = StoredGrants.from_json(derived) if derived is not None else None
        return self.source.make_record(login, StoredAttributes(attributes, valid_id), grants)

    def _records(self, rows: Iterable[tuple[str, dict, int]]) -> list[CustomerUserRecord]:
        return [self._record(login, attributes, valid_id) for login, attributes, valid_id in rows]

    def _fetch(self, qs, operation: str) -> list:
        try:
            return list(qs)
        except DatabaseError as exc:
            raise SourceUnavailable(alias=self.alias, operation=operation, detail=str(exc).strip()) from exc

    def get(self, login: str) -> CustomerUserRecord | None:
        """R76: a data get sees invalid entries too; an entry gone from the directory answers, invalid."""
        if not login or "\x00" in login:
            return None
        # Hand-written: a synced source's every request asks this, and the ORM took 0.8 ms to build the
        # query the database answers in 0.3 (bench-permissions); the same index (source, lower(login)).
        table = connection.ops.quote_name(ShadowEntry._meta.db_table)
        sql = (f"SELECT login, attributes, valid_id, derived FROM {table}"
               " WHERE source = %s AND LOWER(login) = %s LIMIT 1")  # fmt: skip
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, [self.alias, login.lower()])
                found = cursor.fetchone()
        except DatabaseError as exc:
            raise SourceUnavailable(alias=self.alias, operation="get", detail=str(exc).strip()) from exc
        if found is None:
            return None
        stored, attributes, valid_id, derived = found
        return self._record(
            stored, attributes, valid_id, loads(derived) if isinstance(derived, str) else derived
        )

    def derived(self, login: str) -> StoredGrants:
        """The companies and customer groups the last run's rules gave `login` (none for an unknown one)."""
        rows = self._rows().annotate(folded=Lower("login")).filter(folded=(login or "").lower())
        found = self._fetch(rows.values_list("derived", flat=True)[:1], "get")
        return StoredGrants.from_json(found[0] if found else {})

    def get_many(self, logins: Iterable[str]) -> dict[str, CustomerUserRecord]:
        wanted = list(dict.fromkeys(login.lower() for login in logins if login and "\x00" not in login))
        found: dict[str, CustomerUserRecord] = {}
        for start in range(0, len(wanted), 500):
            rows = self._rows().annotate(folded=Lower("login")).filter(folded__in=wanted[start : start + 500])
            for record in self._records(
                self._fetch(rows.values_list("login", "attributes", "valid_id"), "get")
            ):
                found[record.login.casefold()] = record
        return found

    def search(self, query: SearchQuery) -> SourceResult:
        limit = query.limit or self.config.search_list_limit
        name, value = query.selector
        if "\x00" in value:
            return SourceResult(records=[], total=0)
        if name == "term" and (prefix := self._prefix_search(value, query.valid_only, limit)) is not None:
            return prefix
        try:
            condition = self._selector_q(name, value)
        except UnparsableSearch:
            return SourceResult(records=[])
        rows = self._rows().filter(condition, listed=True)  # R75, R76: searches see what the live one sees
        if query.valid_only:
            rows = rows.filter(present=True)
        rows = rows.annotate(stored=Cast("attributes", TextField())).values_list(
            "login", "stored", "valid_id"
        )
        if name == "login" or not value.strip("* "):  # a listing: the first logins, so offsets page alike
            rows = rows.order_by(Lower("login"), "login")
        found = self._fetch(rows[: limit + 1], "search")
        records = self._records(found[:limit])
        records.sort(key=login_order)
        more = len(found) > limit
        return SourceResult(records=records, has_more=more, total=None if more else len(records))

    def _prefix_search(self, term: str, valid_only: bool, limit: int) -> SourceResult | None:
        """One term `x*` on PostgreSQL: the first matching values straight from the btree of every search
        field's values (ShadowValue), their rows, and no more. None when the search is not of that shape,
        or when the values read did not settle the page (entries not listed among them): the general plan
        answers then."""
        if connection.vendor != "postgresql":
            return None
        try:
            expression = parse_search(term)
        except UnparsableSearch:
            return None
        if len(expression) != 1 or len(expression[0]) != 1 or expression[0][0].negated:
            return None
        pattern = expression[0][0].pattern(self.config.search_prefix, self.config.search_suffix).lower()
        if not pattern.endswith("*") or "*" in pattern[:-1] or not pattern[:-1]:
            return None
        quote = connection.ops.quote_name
        entries, values = quote(ShadowEntry._meta.db_table), quote(ShadowValue._meta.db_table)
        matching = f'SELECT v.entry_id FROM {values} v WHERE v.source = %s AND v.value COLLATE "C" LIKE %s'
        present = " AND e.present" if valid_only else ""
        params = [self.alias, like_pattern(pattern)]
        with connection.cursor() as cursor:
            # A few more values than a page (an entry gone or left out by a filter is skipped; reading
            # exactly a page, 72 % of pages came up short at 0.5 % gone and were read again, eight times
            # larger), then more only when they did not settle it. Each value read costs a row's look-up.
            for scanned in (limit + 1 + max(8, limit // 16), (limit + 1) * 8):
                # The first values in index order, each with its row by primary key, or none where the row is
                # not shown (a nested loop; `id IN (…)` cost twice the planning and a hash of the values):
                # one result row per value read.
                cursor.execute(
                    f'SELECT e.login, e.attributes, e.valid_id FROM ({matching} ORDER BY v.value COLLATE "C"'
                    f" LIMIT {scanned}) m LEFT JOIN {entries} e ON e.id = m.entry_id AND e.listed{present}",
                    params,
                )
                rows = cursor.fetchall()
                found = list(
                    {row[0]: row for row in rows if row[0] is not None}.values()
                )  # one row per entry, though two of its values matched
                if len(found) > limit or len(rows) < scanned:  # a page, or every matching value was read
                    break
            else:
                return None
        records = self._records(found[:limit])
        records.sort(key=login_order)
        more = len(found) > limit
        return SourceResult(records=records, has_more=more, total=None if more else len(records))

    folds_accents = True  # `folded_key`, folded by the sync as it writes the row

    def _selector_q(self, name: str, value: str) -> Q:
        if name == "term":
            return self._expression_q(parse_search(value))
        if name == "folded":  # words joined by `+`, each accent-blind over the search fields
            expression = parse_search(value)
            if len(expression) != 1 or any(term.negated for term in expression[0]):
                return Q(pk__in=[])
            patterns = [
                t.pattern(self.config.search_prefix, self.config.search_suffix) for t in expression[0]
            ]
            return reduce(and_, (_key_matches("folded_key", p, folded=True) for p in patterns))
        if name == "postmaster":
            return (
                _key_matches("postmaster_key", value) if value.strip() else Q(pk__in=[])
            )  # R73: `*` a wildcard
        if name == "login":
            if "*" in value:
                return _key_matches("login", value, whole_column=True)
            return Q(Like(Lower("login"), like_pattern(value).lower()))
        if name == "customer_id":
            return _key_matches("customer_id", value, whole_column=True)
        return Q(Like(Lower("customer_id"), like_pattern(value).lower()))  # customer_id_raw: exact (R73)

    def _expression_q(self, expression: Expression) -> Q:
        """R43: a positive term matches some value of some search field; a negated one none."""
        config = self.config
        groups = []
        for group in expression:
            conditions = []
            for term in group:
                matches = _key_matches("search_key", term.pattern(config.search_prefix, config.search_suffix))
                conditions.append(~matches if term.negated else matches)
            groups.append(reduce(and_, conditions))
        return reduce(or_, groups)

    def list_customer_id_values(self, term: str | None, *, valid_only: bool = True) -> list[str]:
        rows = self._rows().filter(present=True).exclude(customer_id="")
        if valid_only:
            rows = rows.filter(listed=True)
        if term:
            try:
                expression = parse_search(term)
            except UnparsableSearch:
                return []
            rows = rows.filter(reduce(or_, (
                reduce(and_, (_key_matches("customer_id", t.text, whole_column=True) for t in group))
                for group in expression
            )))  # fmt: skip
        values = self._fetch(rows.values_list("customer_id", flat=True).distinct(), "customer_id_list")
        return sorted(set(values), key=str.casefold)

    def iter_records(self, *, valid_only: bool = True) -> Iterator[CustomerUserRecord]:
        rows = self._rows()
        if valid_only:
            rows = rows.filter(present=True, listed=True, valid_id=Validity.VALID)
        rows = rows.order_by(Lower("login"), "login").values_list("login", "attributes", "valid_id")
        for login, attributes, valid_id in rows.iterator(chunk_size=2000):
            yield self._record(login, attributes, valid_id)

    def iter_logins(self) -> Iterator[str]:
        yield from self._rows().values_list("login", flat=True).iterator(chunk_size=5000)

    def count(self, *, valid_only: bool = False) -> int:
        rows = self._rows().filter(present=True)
        return self._fetch([rows.filter(listed=True).count() if valid_only else rows.count()], "count")[0]

    # ----------------------------------------------------------------------------------------- writes
    def known(self) -> dict[str, tuple[str, str, int, bool]]:
        """identity → (digest, login, valid_id, present) of every row: what a run compares against."""
        rows = self._rows().values_list("identity", "digest", "login", "valid_id", "present")
        return {identity: (digest, login, valid_id, present)
                for identity, digest, login, valid_id, present in rows.iterator(chunk_size=5000)}  # fmt: skip

    def upsert(self, rows: list[ShadowRow], *, run: int | None) -> None:
        """Write rows by identity (new ones added, known ones replaced): repeatable, so a run resumed after
        a crash writes the same table."""
        if rows:
            ShadowEntry.objects.bulk_create(
                [row.model(self.alias, run) for row in rows],
                update_conflicts=True,
                unique_fields=["source", "identity"],
                update_fields=UPSERTED,
                batch_size=1000,
            )
            self._index_values([row.identity for row in rows])

    def _index_values(self, identities: list[str]) -> None:
        """The rows' search values, one ShadowValue each, written from their search keys by the database
        (PostgreSQL; elsewhere searches use the keys alone)."""
        if connection.vendor != "postgresql":
            return
        quote = connection.ops.quote_name
        entries, values = quote(ShadowEntry._meta.db_table), quote(ShadowValue._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {values} WHERE entry_id IN"
                f" (SELECT id FROM {entries} WHERE source = %s AND identity = ANY(%s))",
                [self.alias, identities],
            )
            cursor.execute(
                f"INSERT INTO {values} (entry_id, source, value) SELECT DISTINCT e.id, e.source, v"
                f" FROM {entries} e, unnest(string_to_array(trim(both %s from e.search_key), %s)) v"
                f" WHERE e.source = %s AND e.identity = ANY(%s) AND v <> ''",
                [SEPARATOR, SEPARATOR, self.alias, identities],
            )

    def mark_gone(self, identities: list[str], *, run: int | None) -> None:
        """Entries gone from the directory: kept, invalid (never deleted)."""
        if identities:
            self._rows().filter(identity__in=identities).update(
                present=False, valid_id=Validity.INVALID, run=run, digest=""
            )

    def analyse(self) -> None:
        """Fresh statistics after a run that wrote many rows: without them the planner took the source's
        index over the trigram one (a 250-row search read 5,600 rows instead of 251: 6 ms against 1)."""
        with connection.cursor() as cursor:
            for model in (ShadowEntry, ShadowValue):
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


class StoredAttributes(Mapping):
    """A shadow row's attributes with its validity, decoded from their JSON when first read: a page that
    merges several sources cuts up to half of its rows by login (R20) before anyone reads them."""

    __slots__ = ("_data", "_text", "_valid_id")

    def __init__(self, stored: dict[str, Any] | str, valid_id: int) -> None:
        self._text, self._valid_id = stored, valid_id
        self._data: dict[str, Any] | None = None

    @property
    def data(self) -> dict[str, Any]:
        data = self._data
        if data is None:
            stored = self._text
            data = self._data = loads(stored) if stored.__class__ is str else dict(stored)
            data["ValidID"] = self._valid_id
        return data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(
        self, key: str, default: Any = None
    ) -> Any:  # the ABC's, through __getitem__, was a tenth of a page
        return self.data.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def keys(self):
        return self.data.keys()

    def items(self):
        return self.data.items()

    def values(self):
        return self.data.values()

    def __iter__(self):
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __getstate__(self) -> dict[str, Any]:
        return {"data": self.data}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._text, self._valid_id, self._data = "", state["data"].get("ValidID", 1), state["data"]

    def __repr__(self) -> str:
        return repr(self.data)


def _key_matches(column: str, pattern: str, *, whole_column: bool = False, folded: bool = False) -> Q:
    """`pattern` (`*` a wildcard, case-blind) matches a value held in `column`: a `␟…␟` key, or with
    `whole_column` the column's one value. A pattern without an inner `*` is one LIKE (the trigram index
    answers it); one with an inner `*` a regular expression that stays within a value. `folded`: the pattern
    folded as the key (`folded_key`) was."""
    text = fold(pattern) if folded else pattern.lower()
    inner = "*" in text.strip("*")
    if whole_column:
        if inner:
            return Q(
                **{f"{column}__iregex": "^" + "[^\u241f]*".join(re.escape(p) for p in text.split("*")) + "$"}
            )
        return Q(Like(Lower(F(column)), like_pattern(text)))
    if not inner:
        like = ("" if text.startswith("*") else f"*{SEPARATOR}") + text
        like = like if like.endswith("*") else f"{like}{SEPARATOR}*"
        return Q(Like(F(column), like_pattern(like)))
    regex = SEPARATOR + f"[^{SEPARATOR}]*".join(re.escape(p) for p in text.split("*")) + SEPARATOR
    return Q(**{f"{column}__regex": regex})
