"""What a directory says about a person's companies and customer groups: `CompanyRules` and `GroupRules` on a
directory source, parsed once, and applied to one entry's facts (its DN, its groups with nested ones
resolved, its attribute values, its e-mail domain) with the reason of every result.

The rules only derive; where the derived companies and groups take effect is the domain's (issue 37: R118's
companies and the permission matrix), so the live source, the sync and single sign-on share this one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import ldap.dn

from backends.config import ConfigProblem

FROM = ("group", "subtree", "attribute", "email-domain")  # a directory's rules
CLAIM_FROM = ("claim", "email-domain")  # an identity provider's (single sign-on): its claims are the facts
TYPES = ("ro", "move_into", "create", "note", "owner", "priority", "rw")
NESTING_DEPTH = 10  # groups of groups are followed this deep; a cycle ends where it began
_TEMPLATE = re.compile(r"\{value\}")


@dataclass(frozen=True)
class DirectoryRule:
    """One table of `CompanyRules` (gives `company`) or `GroupRules` (gives `group` with `types`)."""

    path: str  # "CompanyRules[2]", for reasons and problems
    source: str  # group | subtree | attribute | email-domain | claim
    match: str = ""
    attribute: str = ""  # the attribute, or the claim, whose values the rule reads
    company: str = ""  # a customer ID, or a template with {value}
    primary: bool = False
    group: str = ""
    types: tuple[str, ...] = ()
    create_missing: bool = False  # the customer or group is made on first use (a history entry)

    @cached_property
    def normalised_match(self) -> str:
        """Worked out once per rule (a sync applies every rule to every entry)."""
        if self.source in ("group", "subtree"):
            return normal_dn(self.match)
        return self.match.strip().lstrip("@").casefold()


@dataclass(frozen=True)
class DirectoryFacts:
    """What the rules read about one entry: its DN, the DNs of the groups it belongs to (nested ones
    included, normalised), the values of the attributes rules name, and its e-mail address."""

    dn: str
    groups: frozenset[str] = frozenset()
    values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    email: str = ""


@dataclass(frozen=True)
class Derived:
    """A company or customer group a rule gives, and why."""

    name: str  # the customer ID or the customer group
    reason: str
    types: tuple[str, ...] = ()
    primary: bool = False
    create_missing: bool = False

    def as_json(self) -> list[Any]:
        return [self.name, self.reason, list(self.types), self.primary, self.create_missing]

    @classmethod
    def from_json(cls, data: list[Any]) -> Derived:
        name, reason, types, primary, create_missing = data
        return cls(name, reason, tuple(types), bool(primary), bool(create_missing))


@dataclass(frozen=True)
class EntryRead:
    """What a live read of a person's entry took along for the rules (a record's `rule_facts`)."""

    dn: str
    values: Mapping[str, tuple[str, ...]]
    member_of: tuple[str, ...]


@dataclass(frozen=True)
class StoredGrants:
    """What a sync's run gave a person, read with the shadow's row (a record's `rule_facts`)."""

    companies: tuple[Derived, ...]
    groups: tuple[Derived, ...]

    @classmethod
    def from_json(cls, derived: Mapping[str, Any]) -> StoredGrants:
        return cls(
            tuple(Derived.from_json(item) for item in derived.get("companies", ())),
            tuple(Derived.from_json(item) for item in derived.get("groups", ())),
        )


def primary_company(companies: Iterable[Derived]) -> str:
    """The customer ID of the first company a rule marked `Primary` gives (it replaces the `CustomerID`
    attribute as the primary customer ID), or "" when none does."""
    return next((company.name for company in companies if company.primary), "")


def group_closure(
    direct: Iterable[str], containing: Callable[[set[str]], set[str]], nested: bool
) -> set[str]:
    """The groups an entry belongs to: `direct` ones, and with `nested` the groups containing those, level
    by level to NESTING_DEPTH; a group seen before ends its path, so a cycle ends where it began.
    `containing(groups)` answers the normalised DNs of the groups having any of `groups` as a member (the
    live source asks the directory, the sync its index of every group)."""
    groups = set(direct)
    frontier, depth = set(groups), 0
    while nested and frontier and depth < NESTING_DEPTH:
        frontier = containing(frontier) - groups
        groups |= frontier
        depth += 1
    return groups


def normal_dn(dn: str) -> str:
    """A DN compared as LDAP compares them: attribute names and values case-blind, spaces around `,` and `=`
    not significant."""
    try:
        return ldap.dn.dn2str(
            [
                [(name.lower(), value.casefold(), kind) for name, value, kind in rdn]
                for rdn in ldap.dn.str2dn(dn)
            ]
        )
    except ldap.DECODING_ERROR:
        return dn.strip().casefold()


def parse_rules(
    raw: Mapping[str, Any], kinds: tuple[str, ...] = FROM, check_id: str = "backends.E046"
) -> tuple[tuple[DirectoryRule, ...], tuple[DirectoryRule, ...], list[ConfigProblem]]:
    """`CompanyRules` and `GroupRules` of a source (or, with CLAIM_FROM, of an identity provider) as rules,
    and every problem, each named by its path."""
    problems: list[ConfigProblem] = []
    parsed: dict[str, list[DirectoryRule]] = {"CompanyRules": [], "GroupRules": []}
    for key in parsed:
        tables = raw.get(key) or []
        if not isinstance(tables, list):
            problems.append(ConfigProblem(f"[{key!r}]", "must be a list of tables", check_id=check_id))
            continue
        for index, table in enumerate(tables):
            path = f"{key}[{index}]"
            rule, found = _rule(key, path, table, kinds, check_id)
            problems += found
            if rule is not None:
                parsed[key].append(rule)
    nested = raw.get("NestedGroups")
    if nested is not None and not isinstance(nested, bool | int):
        problems.append(ConfigProblem("['NestedGroups']", f"must be true or false, not {nested!r}",
                                      check_id="backends.E046"))  # fmt: skip
    return tuple(parsed["CompanyRules"]), tuple(parsed["GroupRules"]), problems


def _rule(
    key: str, path: str, table: Any, kinds: tuple[str, ...], check_id: str
) -> tuple[DirectoryRule | None, list[ConfigProblem]]:
    where = f"[{key!r}][{path.rsplit('[', 1)[1]}"  # ['CompanyRules'][2]

    def problem(name: str, message: str, hint: str = "") -> ConfigProblem:
        return ConfigProblem(f"{where}[{name!r}]" if name else where, message, hint=hint, check_id=check_id)

    if not isinstance(table, Mapping):
        return None, [problem("", 'must be a table such as { From = "group", Match = "cn=…", … }')]
    gives = "Company" if key == "CompanyRules" else "Group"
    known = {"From", "Match", "Claim" if "claim" in kinds else "Attribute", gives, "CreateMissing"} | (
        {"Primary"} if gives == "Company" else {"Types"}
    )
    problems = [
        problem(name, "unknown key", f"Use {', '.join(sorted(known))}.")
        for name in table
        if name not in known
    ]
    source = table.get("From")
    if source not in kinds:
        problems.append(problem("From", f"{source!r} is not one of {', '.join(kinds)}"))
    if source == "attribute" and not str(table.get("Attribute") or "").strip():
        problems.append(problem("Attribute", "names the attribute whose values the rule reads"))
    if source == "claim" and not str(table.get("Claim") or "").strip():
        problems.append(problem("Claim", "names the claim (or SAML attribute) whose values the rule reads"))
    if source in ("group", "subtree", "email-domain") and not str(table.get("Match") or "").strip():
        problems.append(problem("Match", "names the group DN, the subtree's DN or the e-mail domain"))
    if source in ("group", "subtree") and table.get("Match") and not ldap.dn.is_dn(str(table["Match"])):
        problems.append(problem("Match", f"{table['Match']!r} is not a distinguished name"))
    if not str(table.get(gives) or "").strip():
        problems.append(
            problem(gives, f"names the {'customer ID' if gives == 'Company' else 'customer group'}")
        )
    types = table.get("Types", ["ro"]) if gives == "Group" else []
    if gives == "Group" and (not isinstance(types, list) or not types or any(t not in TYPES for t in types)):
        problems.append(problem("Types", f"must be a list of {', '.join(TYPES)}, not {types!r}"))
    problems += [
        problem(name, f"must be true or false, not {table[name]!r}")
        for name in ("Primary", "CreateMissing")
        if name in table and not isinstance(table[name], bool)
    ]
    if problems:
        return None, problems
    text = {name: str(table.get(name) or "") for name in ("Match", "Attribute", "Claim", "Company", "Group")}
    return DirectoryRule(
        path=path, source=source, match=text["Match"], attribute=text["Attribute"] or text["Claim"],
        company=text["Company"],
        primary=bool(table.get("Primary")), group=text["Group"], types=tuple(types),
        create_missing=bool(table.get("CreateMissing")),
    ), []  # fmt: skip


def apply_rules(rules: Iterable[DirectoryRule], facts: DirectoryFacts) -> list[Derived]:
    """What each rule gives this entry, with its reason, in the rules' order (a rule giving nothing is left
    out; several values of an attribute give several results)."""
    derived: list[Derived] = []
    dn = normal_dn(facts.dn)
    domain = facts.email.rpartition("@")[2].casefold() if "@" in facts.email else ""
    for rule in rules:
        match = rule.normalised_match
        if rule.source == "group":
            hits = ["directory group " + rule.match] if match in facts.groups else []
        elif rule.source == "subtree":
            hits = ["entry under " + rule.match] if dn == match or dn.endswith("," + match) else []
        elif rule.source == "email-domain":
            hits = ["e-mail domain " + domain] if domain and domain == match else []
        elif rule.source == "claim":  # every value, or with Match the one equal to it (case-blind)
            values = facts.values.get(rule.attribute, ())
            hits = [(f"claim {rule.attribute} = {value}", value) for value in values
                    if value and (not match or value.casefold() == match)]  # fmt: skip
        else:
            values = next((v for k, v in facts.values.items() if k.lower() == rule.attribute.lower()), ())
            hits = [(f"{rule.attribute} = {value}", value) for value in values if value]
        for hit in hits:
            said, value = hit if isinstance(hit, tuple) else (hit, "")
            name = _TEMPLATE.sub(value, rule.company or rule.group)
            if name:
                reason = f"via {said} ({rule.path})"
                derived.append(Derived(name, reason, rule.types, rule.primary, rule.create_missing))
    return derived
