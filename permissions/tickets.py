"""Which tickets a customer user may see, open and answer: the reference's permission chain (R115–R120).

R115 runs, in order: GroupCheck (required), CustomerUserIDCheck, CustomerIDCheck, CustomerGroupCheck
(any of the last three grants). Here the chain is one queryset filter, so lists, counts and single
tickets agree and a ticket outside it is simply not found (404), never shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from backends.registry import SourceHandler, sources
from customers.models import CustomerGroup, Validity
from customers.selectors import get_customer_user
from permissions.company_tickets import company_ticket_customer_ids
from permissions.matrix import get_permission_matrix
from permissions.selectors import permission_types


@dataclass(frozen=True)
class TicketAccess:
    """What R115–R120 decide for one customer user and one permission type."""

    login: str
    permission: str
    queue_groups: frozenset[str] | None  # R116: None when the source has no group support (every group)
    company_ids: tuple[str, ...]  # R118 (empty when company-ticket access is disabled)
    other_context_groups: frozenset[str]  # R119

    def tickets(self, queryset: QuerySet) -> QuerySet:
        """The tickets of `queryset` this user may access with this permission type."""
        queryset = queryset.alias(login_ci=Lower("customer_user_login"), customer_id_ci=Lower("customer_id"))
        granted = Q(login_ci=self.login.lower())  # R117, case-insensitively
        if self.company_ids:
            granted |= Q(customer_id_ci__in=[c.lower() for c in self.company_ids])  # R118, case-insensitively
        if self.other_context_groups:
            granted |= Q(queue__group__name__in=self.other_context_groups) & ~Q(customer_id="")  # R119
        if self.queue_groups is not None:
            queryset = queryset.filter(queue__group__name__in=self.queue_groups)  # R116, required
        return queryset.filter(granted)


def effective_type(permission: str) -> str:
    """A type that is not configured is held only through rw (R100: rw implies every type)."""
    return permission if permission in permission_types() else "rw"


def ticket_access(
    login: str, permission: str = "ro", *, registry: SourceHandler = sources
) -> TicketAccess | None:
    """None for an unknown or invalid customer user: they may access nothing."""
    record = get_customer_user(login, registry=registry, enrich=False)
    if record is None or record.valid_id != Validity.VALID:
        return None
    permission = effective_type(permission)
    group_support = registry.configs[record.source].group_support
    queue_groups = None
    if group_support:
        queue_groups = frozenset(
            get_permission_matrix(record.login, registry=registry).group_names(permission)
        )
    ids = company_ticket_customer_ids(record, registry=registry)
    other: frozenset[str] = frozenset()
    if group_support and ids:
        other = frozenset(
            CustomerGroup.objects.filter(
                customer_id__in=ids, context=CustomerGroup.OTHER, permission__in=(permission, "rw"),
                group__validity=Validity.VALID,
            ).values_list("group__name", flat=True)
        )  # fmt: skip
    return TicketAccess(record.login, permission, queue_groups, tuple(ids), other)


def creatable_queue_groups(login: str, *, registry: SourceHandler = sources) -> frozenset[str] | None:
    """Groups whose queues take new tickets from this user (`create` or rw); None: every group."""
    access = ticket_access(login, "create", registry=registry)
    if access is None:
        return frozenset()
    return access.queue_groups
