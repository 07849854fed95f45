"""The effective permission matrix of a customer user, computed as the reference does (R103), with reasons.

Steps of R103 for a customer user U and a type T:
  1. a source whose CustomerGroupSupport is off gives its users every valid group (for every T);
  2. direct links (U, G, T or rw) on valid groups;
  3. for every customer C in CustomerIDs(U) (R23): links (C, G, T or rw) in the Same context on valid
     groups, plus the company default groups (CustomerGroupCompanyAlwaysGroups);
  4. the default groups for every customer user (CustomerGroupAlwaysGroups).
The union is the answer; each member keeps the grants that put it there, so screens can say why.

A fixed number of queries per build, whatever the number of groups or customers. Built matrices are
cached under a generation number that every relation or setting write bumps (R108), so a revoked
permission never survives in the cache.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.core.cache import cache

from backends.registry import SourceHandler, sources
from customers.models import CustomerGroup, CustomerUserGroup, Group, Validity
from customers.selectors import customer_ids_of, get_customer_user
from permissions.selectors import get_permission_settings, permission_types

GENERATION_KEY = "permissions:generation"
CACHE_TTL = 20 * 24 * 3600  # R108: 20 days, cleared by every write


@dataclass(frozen=True)
class Grant:
    """One reason a customer user holds a permission type on a group."""

    kind: str  # direct | customer | company_default | default | group_support_off
    stored: str  # the permission key that was stored (rw implies the others)
    via: str = ""  # the customer ID or source alias the grant comes through

    @property
    def reason(self) -> str:
        implied = f" ({self.stored} implies every type)" if self.stored == "rw" else ""
        match self.kind:
            case "direct":
                return f"direct {self.stored}{implied}"
            case "customer":
                return f"via customer {self.via}: {self.stored}{implied}"
            case "company_default":
                return f"company default group (via customer {self.via})"
            case "default":
                return "default group for every customer user"
            case _:
                return f"group support is off for source {self.via}: every group"


@dataclass(frozen=True)
class PermissionMatrix:
    login: str
    types: tuple[str, ...]
    groups: dict[str, int]  # valid group name → id
    grants: dict[tuple[str, str], tuple[Grant, ...]] = field(default_factory=dict)

    def allows(self, group: Group | str, permission: str) -> bool:
        return bool(self.grants.get((_name(group), permission)))

    def why(self, group: Group | str, permission: str) -> tuple[Grant, ...]:
        return self.grants.get((_name(group), permission), ())

    def group_names(self, permission: str) -> list[str]:
        """R103 step 5 (`Name` result): the sorted names of the groups that allow `permission`."""
        return sorted({g for (g, t), grants in self.grants.items() if t == permission and grants})

    def as_rows(self) -> list[dict]:
        """One row per valid group: every type with its reasons (empty list when not held)."""
        return [
            {"group": name, "permissions": {t: [g.reason for g in self.why(name, t)] for t in self.types}}
            for name in sorted(self.groups)
        ]


def _name(group: Group | str) -> str:
    return group if isinstance(group, str) else group.name


def generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, 1, None)
        value = cache.get(GENERATION_KEY, 1)
    return value


def forget_permission_matrices() -> None:
    """Invalidate every cached matrix at once (R108); called by every relation and setting write."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 2, None)


def get_permission_matrix(login: str, *, registry: SourceHandler = sources, use_cache: bool = True):
    """Return the effective matrix of `login`, from the cache when it is still current."""
    key = f"permissions:matrix:{generation()}:{login.casefold()}"
    if use_cache and registry is sources:
        matrix = cache.get(key)
        if matrix is not None:
            return matrix
    matrix = build_permission_matrix(login, registry=registry)
    if use_cache and registry is sources:
        cache.set(key, matrix, CACHE_TTL)
    return matrix


def build_permission_matrix(login: str, *, registry: SourceHandler = sources) -> PermissionMatrix:
    options = get_permission_settings()
    types = tuple(permission_types())
    valid_groups = dict(Group.objects.filter(validity=Validity.VALID).values_list("name", "id"))
    grants: dict[tuple[str, str], list[Grant]] = defaultdict(list)

    def grant(group_name: str, stored: str, kind: str, via: str = "") -> None:
        if group_name not in valid_groups:
            return
        for permission in types if stored == "rw" or kind in ("group_support_off",) else (stored,):
            if permission in types:
                grants[(group_name, permission)].append(Grant(kind, stored, via))

    record = get_customer_user(login, registry=registry, enrich=False)
    if record is None:
        # An unknown login gets nothing, not even the default groups (W17).
        return PermissionMatrix(login, types, valid_groups, {})
    stored_login = record.login
    if not registry.configs[record.source].group_support:
        for name in valid_groups:
            grant(name, "rw", "group_support_off", record.source)
        return PermissionMatrix(stored_login, types, valid_groups, _freeze(grants))

    for name, stored in CustomerUserGroup.objects.filter(login=stored_login).values_list(
        "group__name", "permission"
    ):
        grant(name, stored, "direct")

    customer_ids = customer_ids_of(record, registry=registry)
    if customer_ids:
        rows = CustomerGroup.objects.filter(customer_id__in=customer_ids, context=CustomerGroup.SAME)
        for customer_id, name, stored in rows.values_list("customer_id", "group__name", "permission"):
            grant(name, stored, "customer", customer_id)
        for name in options.get("CustomerGroupCompanyAlwaysGroups") or ():
            for permission in types:
                if name in valid_groups:
                    grants[(name, permission)].append(
                        Grant("company_default", permission, ", ".join(customer_ids))
                    )

    for name in options.get("CustomerGroupAlwaysGroups") or ():
        for permission in types:
            if name in valid_groups:
                grants[(name, permission)].append(Grant("default", permission))
    return PermissionMatrix(stored_login, types, valid_groups, _freeze(grants))


def _freeze(grants: dict[tuple[str, str], list[Grant]]) -> dict[tuple[str, str], tuple[Grant, ...]]:
    return {key: tuple(dict.fromkeys(value)) for key, value in grants.items() if value}
