"""Reading a directory for a sync: every entry (paged), or what changed since a cookie (RFC 4533 content
synchronisation where the server offers it, else a change-time query and a pass over the present
identities), each entry as the shadow row it becomes. It reads; the customers app's sync decides.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ldap
from ldap.filter import escape_filter_chars
from ldap.ldapobject import SimpleLDAPObject
from ldap.syncrepl import SyncreplConsumer

from backends.ldap.rules import DirectoryFacts, group_closure, normal_dn, primary_company
from backends.ldap.shadow import ShadowRow, key_of

if TYPE_CHECKING:
    from backends.ldap.source import LDAPSource

SYNC_CONTROL = "1.3.6.1.4.1.4203.1.9.1.1"  # RFC 4533's sync request control, in the root DSE
CLOCK_SKEW = dt.timedelta(minutes=5)  # a change-time query starts this much before the last run did


@dataclass
class DirectoryChanges:
    """What a read found: changed (or, for a full read, all) entries as rows, identities the server says
    are gone, and when `present` is given every identity the directory still holds (an entry known before
    and absent from it is gone). `cookie` is where the next incremental read starts."""

    rows: list[ShadowRow] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)
    present: set[str] | None = None
    cookie: str = ""
    method: str = ""  # full | syncrepl | timestamp
    read: int = 0


@dataclass
class GroupIndex:
    """Every group of the directory, read once per run: who is a member of what (normalised DNs, and
    posixGroup memberUid values), so a run gives each entry its groups, nested ones included, without a
    search per entry. `digest` tells a run whether any membership changed since the last one."""

    by_member: dict[str, set[str]] = field(default_factory=dict)
    by_uid: dict[str, set[str]] = field(default_factory=dict)
    digest: str = ""

    def groups_of(self, dn: str, login: str, member_of: list[str], nested: bool) -> set[str]:
        direct = self.by_member.get(normal_dn(dn), set()) | self.by_uid.get(login, set())
        return group_closure(direct | {normal_dn(g) for g in member_of}, self.parents, nested)

    def parents(self, groups: set[str]) -> set[str]:
        found: set[str] = set()
        for group in groups:
            found |= self.by_member.get(group, set())
        return found


class DirectoryReader:
    """The sync's reads of one LDAP source, over the source's own connection, filters and Map."""

    def __init__(self, source: LDAPSource) -> None:
        self.source = source
        self.config = source.config
        self.identity = source.sync.identity
        self.wanted = sorted({*source._attributes, self.identity, *self.config.search_fields,
                              *self.config.postmaster_search_fields, *source.rule_attributes,
                              *(["memberOf"] if source.reads_groups else [])})  # fmt: skip
        self._all = source._with_fixed_filters(f"({self.config.customer_key}=*)", valid=False)
        self._groups: GroupIndex | None = None
        self._one_entry = False  # reading one entry (`entry`): its groups are asked, not indexed

    # ------------------------------------------------------------------------------ companies, groups
    def group_index(self) -> GroupIndex:
        """Every group under the suffix (members, unique members, memberUid), read once per reader."""
        if self._groups is None:
            index = GroupIndex()
            source = self.source
            if source.reads_groups:
                found, complete = source._search(
                    "(|(member=*)(uniqueMember=*)(memberUid=*))", None,
                    ["member", "uniqueMember", "memberUid"], base=source.suffix(),
                )  # fmt: skip
                if not complete:
                    raise source._unavailable("sync", RuntimeError(), "the server cut the list of groups")
                pairs = []
                for dn, attrs in found:
                    group = normal_dn(dn)
                    for name, values in attrs.items():
                        for value in values:
                            text = source._decode(value)
                            if name.lower() == "memberuid":
                                index.by_uid.setdefault(text, set()).add(group)
                            else:
                                text = normal_dn(text)
                                index.by_member.setdefault(text, set()).add(group)
                            pairs.append(f"{group}\x1f{name.lower()}\x1f{text}")
                index.digest = hashlib.md5("\n".join(sorted(pairs)).encode()).hexdigest()
            self._groups = index
        return self._groups

    def _given(self, dn: str, login: str, email: str, customer_id: str, values: dict[str, list[str]],
               member_of: list[str]) -> tuple[str, dict[str, Any], dict[str, Any]]:  # fmt: skip
        """What the rules give an entry: its primary customer ID (a `Primary` rule's company, else
        `customer_id`), the derived companies and groups as the shadow keeps them, and the facts they
        read (so a change of groups alone re-derives the row, see `regranted`)."""
        source = self.source
        if not source.derives_grants:
            return customer_id, {}, {}
        groups: set[str] = set()
        if source.reads_groups and self._one_entry:
            groups = source._groups_of(dn, login, member_of)  # a write's one entry: ask the directory
        elif source.reads_groups:
            groups = self.group_index().groups_of(dn, login, member_of, source.nested_groups)
        named = {name: tuple(values.get(name, ())) for name in source.rule_attributes}
        facts = DirectoryFacts(dn=dn, groups=frozenset(groups), values=named, email=email)
        companies, granted = source.apply_rules(facts)
        derived = {"companies": [c.as_json() for c in companies], "groups": [g.as_json() for g in granted]}
        stored = {"values": {name: list(v) for name, v in named.items()}, "member_of": sorted(member_of),
                  "customer_id": customer_id}  # fmt: skip
        return primary_company(companies) or customer_id, derived, stored

    def regranted(self, stored: list[dict[str, Any]]) -> list[ShadowRow]:
        """Rows the directory did not change whose companies or groups changed with its groups: each
        stored row (a dict of ShadowEntry's fields) given again from its stored facts; those whose
        derived companies or groups differ are answered."""
        rows = []
        for entry in stored:
            facts = entry["facts"] or {}
            attributes = dict(entry["attributes"])
            email = str(attributes.get("UserEmail") or "")
            original = facts.get("customer_id", entry["customer_id"])
            customer_id, derived, facts = self._given(
                entry["dn"],
                entry["login"],
                email,
                original,
                facts.get("values", {}),
                facts.get("member_of", []),
            )
            if derived == entry["derived"]:
                continue
            if "UserCustomerID" in attributes or customer_id != original:
                attributes["UserCustomerID"] = customer_id
            rows.append(ShadowRow(
                identity=entry["identity"], dn=entry["dn"], login=entry["login"], customer_id=customer_id,
                attributes=attributes, search_key=entry["search_key"], postmaster_key=entry["postmaster_key"],
                valid_id=entry["valid_id"], listed=entry["listed"], disabled=entry["disabled"],
                derived=derived, facts=facts,
            ))  # fmt: skip
        return rows

    # -------------------------------------------------------------------------------- entry → row
    def _identity(self, entry: dict[str, list[bytes]]) -> str:
        values = next((v for k, v in entry.items() if k.lower() == self.identity.lower()), [])
        if not values:
            return ""
        if self.identity.lower() == "objectguid" and len(values[0]) == 16:
            return str(uuid.UUID(bytes_le=values[0]))  # AD's binary GUID, as AD shows it
        return values[0].decode("ascii", "replace").lower()

    def rows(self, entries: list[tuple[str, dict]], *, listed: set[str] | None, members: set[str] | None,
             identities: list[str] | None = None) -> list[ShadowRow]:  # fmt: skip
        """Entries as shadow rows. `listed`: the identities the valid filter lets through (None: all);
        `members`: the GroupDN's logins, casefolded (None: no GroupDN, R75)."""
        source = self.source
        rows = []
        charset = source.charset
        preset = source.sync.disabled
        for index, (dn, entry) in enumerate(entries):
            identity = identities[index] if identities is not None else self._identity(entry)
            records = source._records([(dn, entry)])
            if not identity or not records:
                continue
            record = records[0]
            lowered = {k.lower(): v for k, v in entry.items()}

            def values(name: str, lowered=lowered) -> list[str]:
                return [v.decode(charset, "replace") for v in lowered.get(name.lower(), ())]

            disabled = preset.reason(values(preset.attribute)) if preset is not None else ""
            search = key_of(v for name in self.config.search_fields for v in values(name))
            postmaster = key_of(v for name in self.config.postmaster_search_fields for v in values(name))
            attributes = dict(record.attributes)
            attributes.pop("ValidID", None)
            customer_id, derived, facts = self._given(
                dn, record.login, record.email, record.customer_id,
                {name: values(name) for name in source.rule_attributes}, values("memberOf"),
            )  # fmt: skip
            if customer_id != record.customer_id:
                attributes["UserCustomerID"] = customer_id  # a Primary rule's company (issue 37)
            rows.append(ShadowRow(
                identity=identity, dn=dn, login=record.login, customer_id=customer_id,
                attributes=json.loads(json.dumps(attributes, default=str)), search_key=search,
                postmaster_key=postmaster, valid_id=record.valid_id, disabled=disabled,
                listed=not disabled and (listed is None or identity in listed)
                and (members is None or record.login.casefold() in members),
                derived=derived, facts=facts,
            ))  # fmt: skip
        return rows

    # -------------------------------------------------------------------------------------- reads
    def full(self) -> Iterator[tuple[list[ShadowRow], DirectoryChanges]]:
        """Every entry, page by page, as rows; the last yield's changes carry `present` and the cookie."""
        changes = DirectoryChanges(present=set(), cookie=self._start_cookie(), method="full")
        listed, members = self._listed(), self._members()
        source = self.source

        def pages(connection):
            control = ldap.controls.SimplePagedResultsControl(True, size=source.page_size, cookie="")
            while True:
                msgid = connection.search_ext(source.base_dn, source.scope, self._all, self.wanted,
                                              serverctrls=[control])  # fmt: skip
                _, data, _, controls = connection.result3(msgid, timeout=source.timeout)
                yield [(dn, attrs) for dn, attrs in data if dn is not None]
                cookie = next((c.cookie for c in controls if c.controlType == control.controlType), b"")
                if not cookie:
                    return
                control.cookie = cookie

        connection = source._connect()
        try:
            for page in pages(connection):
                rows = self.rows(page, listed=listed, members=members)
                changes.present.update(row.identity for row in rows)
                changes.read += len(page)
                yield rows, changes
        except (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.SIZELIMIT_EXCEEDED, ldap.OPERATIONS_ERROR) as exc:
            raise source._unavailable("sync", exc) from exc
        finally:
            connection.unbind_s()

    def changes(self, cookie: str, known: set[str]) -> DirectoryChanges:
        """What changed since `cookie`; `known` are the identities the shadow holds as present."""
        if cookie.startswith("rid=") and self.syncrepl_offered():
            return self._syncrepl(cookie, known)
        return self._by_change_time(cookie, known)

    def syncrepl_offered(self) -> bool:
        if self.identity.lower() != "entryuuid":
            return False  # RFC 4533 names entries by entryUUID
        root = self.source._run("sync", lambda c: c.search_s("", ldap.SCOPE_BASE, "(objectClass=*)",
                                                               ["supportedControl"]))  # fmt: skip
        controls = {v.decode() for _, attrs in root for v in attrs.get("supportedControl", [])}
        return SYNC_CONTROL in controls

    def _start_cookie(self) -> str:
        """Where the next incremental read starts: the database's contextCSN as an RFC 4533 cookie when the
        server offers content synchronisation, else the time now (less the clock skew)."""
        if self.syncrepl_offered():
            csns = self._context_csns()
            if csns:
                return f"rid=000,csn={';'.join(csns)}"
        started = dt.datetime.now(dt.UTC) - CLOCK_SKEW
        return f"time={started:%Y%m%d%H%M%SZ}"

    def _context_csns(self) -> list[str]:
        suffix = self.source.suffix()
        found = self.source._run(
            "sync", lambda c: c.search_s(suffix, ldap.SCOPE_BASE, "(objectClass=*)", ["contextCSN"])
        )
        return sorted(v.decode() for _, a in found for v in a.get("contextCSN", []))

    def _syncrepl(self, cookie: str, known: set[str]) -> DirectoryChanges:
        """RFC 4533 refreshOnly from `cookie`: changed entries in full, deletions explicit (a session log)
        or by absence from the present phase."""
        source = self.source
        consumer = _Consumer(" ".join(source.uris), cookie)
        consumer.set_option(ldap.OPT_NETWORK_TIMEOUT, source.timeout)
        try:
            if source.start_tls:
                consumer.start_tls_s()
            consumer.simple_bind_s(source.bind_dn, source.bind_pw)
            msgid = consumer.syncrepl_search(source.base_dn, source.scope, mode="refreshOnly",
                                             filterstr=self._all, attrlist=self.wanted)  # fmt: skip
            while consumer.syncrepl_poll(msgid=msgid, all=1, timeout=max(source.timeout, 60)):
                pass
        except (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.OPERATIONS_ERROR, ldap.SIZELIMIT_EXCEEDED) as exc:
            raise source._unavailable("sync", exc) from exc
        finally:
            consumer.unbind_s()
        entries = list(consumer.changed.items())
        identities = [identity for identity, _ in entries]
        listed = self._listed(identities) if entries else set()
        members = self._members()
        changes = DirectoryChanges(
            rows=self.rows([e for _, e in entries], listed=listed, members=members, identities=identities),
            deleted=set(consumer.deleted), cookie=consumer.cookie, method="syncrepl", read=len(entries),
        )  # fmt: skip
        if consumer.deletes_by_absence:
            changes.present = consumer.present | set(identities)
            changes.deleted |= known - changes.present
        return changes

    def _by_change_time(self, cookie: str, known: set[str]) -> DirectoryChanges:
        """Entries created or changed since the cookie's time, and a pass over every identity for the gone."""
        since = cookie.removeprefix("time=") if cookie.startswith("time=") else "19700101000000Z"
        next_cookie = self._start_cookie()
        changed = f"(|(modifyTimestamp>={since})(createTimestamp>={since}))"
        source = self.source
        entries, _ = source._search(source._with_fixed_filters(changed, valid=False), None, self.wanted)
        present_entries, complete = source._search(self._all, None, [self.identity])
        if not complete:
            raise source._unavailable("sync", RuntimeError(), "the server cut the list of present entries")
        present = {self._identity(attrs) for _, attrs in present_entries} - {""}
        rows = self.rows(entries, listed=self._listed([self._identity(a) for _, a in entries]),
                         members=self._members())  # fmt: skip
        present |= {row.identity for row in rows}
        return DirectoryChanges(rows=rows, deleted=known - present, present=present, cookie=next_cookie,
                                method="timestamp", read=len(entries))  # fmt: skip

    def _listed(self, identities: list[str] | None = None) -> set[str] | None:
        """The identities R76's valid filter lets through (None: there is none, all are listed); all of
        them, or among `identities` (in chunks, by an equality filter on the identity attribute)."""
        source = self.source
        if not source.config.valid_filter.strip():
            return None
        if identities is None:
            every = source._with_fixed_filters(f"({self.config.customer_key}=*)", valid=True)
            entries, _ = source._search(every, None, [self.identity])
            return {self._identity(attrs) for _, attrs in entries}
        found: set[str] = set()
        for start in range(0, len(identities), 200):
            chunk = identities[start : start + 200]
            either = "".join(f"({self.identity}={escape_filter_chars(i)})" for i in chunk)
            entries, _ = source._search(source._with_fixed_filters(f"(|{either})", valid=True), None,
                                        [self.identity])  # fmt: skip
            found |= {self._identity(attrs) for _, attrs in entries}
        return found

    def _members(self) -> set[str] | None:
        """R75: the GroupDN's memberUid values, casefolded (None: no GroupDN)."""
        source = self.source
        if not source.group_dn:
            return None
        found = source._run("search", lambda c: c.search_s(source.group_dn, ldap.SCOPE_SUBTREE,
                                                             "(memberUid=*)", ["memberUid"]))  # fmt: skip
        return {
            v.decode(source.charset, "replace").casefold() for _, a in found for v in a.get("memberUid", [])
        }

    def entry(self, login: str) -> ShadowRow | None:
        """One entry read live, as its row (a write through the product updates the shadow with it)."""
        source = self.source
        filterstr = source._with_fixed_filters(f"({self.config.customer_key}={escape_filter_chars(login)})",
                                               valid=False)  # fmt: skip
        entries, _ = source._search(filterstr, 1, self.wanted)
        if not entries:
            return None
        self._one_entry = True
        identity = self._identity(entries[0][1])
        listed = self._listed([identity]) if identity else set()
        rows = self.rows(entries[:1], listed=listed, members=self._members())
        return rows[0] if rows else None


class _Consumer(SyncreplConsumer, SimpleLDAPObject):
    """python-ldap's RFC 4533 consumer, collecting one refresh."""

    def __init__(self, uri: str, cookie: str) -> None:
        super().__init__(uri)
        self.cookie = cookie
        self.changed: dict[str, dict[str, Any]] = {}
        self.dns: dict[str, str] = {}
        self.deleted: set[str] = set()
        self.present: set[str] = set()
        self.deletes_by_absence = False

    def syncrepl_get_cookie(self) -> str:
        return self.cookie

    def syncrepl_set_cookie(self, cookie: str) -> None:
        self.cookie = cookie

    def syncrepl_entry(self, dn: str, attrs: dict[str, Any], uuid: str) -> None:
        self.changed[uuid] = (dn, attrs)

    def syncrepl_delete(self, uuids: list[str]) -> None:
        self.deleted.update(uuids)

    def syncrepl_present(self, uuids: list[str] | None, refreshDeletes: bool = False) -> None:
        if uuids is not None:
            self.present.update(uuids)
        elif not refreshDeletes:
            self.deletes_by_absence = True  # a present phase ended: what was not presented is gone

    def syncrepl_refreshdone(self) -> None:
        return None
