"""Who holds a permission on a group (R104), and which customers a user reaches through groups (R107).

The reference's reverse listing misses users who reach a group through an additional customer, and the
default groups (W14), so its "who has access" report disagrees with the per-user check. Here the reverse
listing applies the same steps as the matrix (R103), and says when a grant reaches everyone instead of
listing every customer user of every source.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from backends.registry import SourceHandler, sources
from core.lookups import fold
from customers.models import Customer, CustomerGroup, CustomerUserCustomer, CustomerUserGroup, Group, Validity
from customers.selectors import customer_ids_of, get_customer_user, get_customer_users, search_customer_users
from permissions.matrix import Grant
from permissions.selectors import get_permission_settings, permission_types


@dataclass(frozen=True)
class GroupMembers:
    group: str
    permission: str
    members: dict[str, tuple[Grant, ...]] = field(default_factory=dict)  # login → why
    everyone: tuple[str, ...] = ()  # grants that reach every customer user (of a source), as reasons
    truncated_sources: tuple[str, ...] = ()  # a customer's users were cut at a source's search limit
    unavailable_sources: tuple[str, ...] = ()

    @property
    def logins(self) -> list[str]:
        return sorted(self.members, key=lambda login: (login.casefold(), login))


def list_group_members(group: str, permission: str, *, registry: SourceHandler = sources) -> GroupMembers:
    """Every valid customer user who holds `permission` on `group`, with the reasons, as R103 decides.

    R104's rules kept: direct links count with `permission` or rw; direct members whose record is not
    valid are left out; customers count in the Same context only. Added (W14): users whose additional
    customer holds the group count too, and default groups are reported under `everyone`.
    """
    options = get_permission_settings()
    if permission not in permission_types(options):
        return GroupMembers(group, permission)
    if not Group.objects.filter(name=group, validity=Validity.VALID).exists():
        return GroupMembers(group, permission)
    everyone = [
        f"group support is off for source {backend.alias}: every group"
        for backend in registry.in_order()
        if not backend.config.group_support
    ]
    if group in (options.get("CustomerGroupAlwaysGroups") or ()):
        everyone.append(Grant("default", "rw").reason)
    if group in (options.get("CustomerGroupCompanyAlwaysGroups") or ()):
        everyone.append("company default group (every customer user with a customer)")

    grants: dict[str, list[Grant]] = defaultdict(list)
    stored = {permission, "rw"}
    direct = CustomerUserGroup.objects.filter(group__name=group, permission__in=stored)
    direct_rows = list(direct.values_list("login", "permission"))
    customer_rows = list(
        CustomerGroup.objects.filter(group__name=group, permission__in=stored, context=CustomerGroup.SAME)
        .order_by("customer_id")
        .values_list("customer_id", "permission")
    )
    customer_ids = {customer_id for customer_id, _ in customer_rows}

    records = {}
    truncated: set[str] = set()
    unavailable: set[str] = set()
    for customer_id in customer_ids:
        page = search_customer_users(customer_id_raw=customer_id, registry=registry)
        truncated.update(page.truncated_sources)
        unavailable.update(page.unavailable_sources)
        records.update({r.login.casefold(): r for r in page.rows})
    additional = CustomerUserCustomer.objects.filter(customer_id__in=customer_ids)
    wanted = {login for login, _ in direct_rows} | set(additional.values_list("login", flat=True))
    found, unreachable = get_customer_users(
        [w for w in wanted if w.casefold() not in records], registry=registry
    )
    for key, record in found.items():
        records.setdefault(key, record)
    unavailable.update(unreachable)

    for login, stored_permission in direct_rows:
        record = records.get(login.casefold())
        if record is not None and record.valid_id == Validity.VALID and _group_support(record, registry):
            grants[record.login].append(Grant("direct", stored_permission))
    by_customer = defaultdict(list)
    for customer_id, stored_permission in customer_rows:
        by_customer[fold(customer_id)].append(stored_permission)
    for record in records.values():
        if record.valid_id != Validity.VALID or not _group_support(record, registry):
            continue
        for customer_id in customer_ids_of(record, registry=registry):
            for stored_permission in by_customer.get(fold(customer_id), ()):
                grants[record.login].append(Grant("customer", stored_permission, customer_id))
    return GroupMembers(
        group,
        permission,
        {login: tuple(dict.fromkeys(g)) for login, g in grants.items() if g},
        tuple(everyone),
        tuple(sorted(truncated)),
        tuple(sorted(unavailable)),
    )


def _group_support(record, registry: SourceHandler) -> bool:
    """A source without group support gives its users every group: they are reported under `everyone`."""
    return registry.configs[record.source].group_support


def list_group_context_customers(login: str, *, registry: SourceHandler = sources) -> dict[str, str]:
    """R107: the user's customers, plus the customers reached through the Other context; valid only.

    For each of the user's customers, the groups it holds ro (or rw) on in the Other context; then every
    customer holding ro or rw on such a group in the Same context. Returns customer ID → name.
    """
    record = get_customer_user(login, registry=registry, enrich=False)
    if record is None:
        return {}
    ids = customer_ids_of(record, registry=registry)
    if registry.configs[record.source].group_support:
        other_groups = CustomerGroup.objects.filter(
            customer_id__in=ids, context=CustomerGroup.OTHER, permission__in=("ro", "rw"),
            group__validity=Validity.VALID,
        ).values("group_id")  # fmt: skip
        reached = (
            CustomerGroup.objects.filter(
                group_id__in=other_groups, context=CustomerGroup.SAME, permission__in=("ro", "rw")
            )
            .order_by("customer_id")
            .values_list("customer_id", flat=True)
        )
        ids += [c for c in dict.fromkeys(reached) if c not in ids]
    names = dict(
        Customer.objects.filter(customer_id__in=ids, validity=Validity.VALID).values_list(
            "customer_id", "name"
        )
    )
    return {customer_id: names[customer_id] for customer_id in ids if customer_id in names}


def list_customer_groups(customer_id: str, permission: str) -> list[str]:
    """R105: the valid groups a customer holds `permission` (or rw) on in the Same context, plus the
    company default groups; sorted names.
    """
    options = get_permission_settings()
    if permission not in permission_types(options):
        return []
    held = set(
        CustomerGroup.objects.filter(
            customer_id=customer_id, context=CustomerGroup.SAME, permission__in=(permission, "rw"),
            group__validity=Validity.VALID,
        ).values_list("group__name", flat=True)
    )  # fmt: skip
    defaults = set(options.get("CustomerGroupCompanyAlwaysGroups") or ())
    held |= set(
        Group.objects.filter(name__in=defaults, validity=Validity.VALID).values_list("name", flat=True)
    )
    return sorted(held)
