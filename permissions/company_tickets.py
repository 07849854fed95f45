"""Which customers' tickets and which services a customer user may use (R118–R120, R130–R131)."""

from __future__ import annotations

from backends.base import CustomerUserRecord
from backends.registry import SourceHandler, sources
from customers.models import CustomerUserService, DefaultService, Validity
from customers.selectors import customer_ids_of, get_customer_user
from permissions.selectors import get_permission_setting


def company_ticket_customer_ids(
    record: CustomerUserRecord, *, registry: SourceHandler = sources
) -> list[str]:
    """R118, the one home of the rule: none when company-ticket access is disabled; else CustomerIDs(U)
    (R23, R61, R120)."""
    if get_permission_setting("CustomerDisableCompanyTicketAccess"):
        return []
    return customer_ids_of(record, registry=registry)


def list_company_ticket_customer_ids(login: str, *, registry: SourceHandler = sources) -> list[str]:
    record = get_customer_user(login, registry=registry, enrich=False)
    return company_ticket_customer_ids(record, registry=registry) if record is not None else []


def list_customer_user_services(login: str, *, registry: SourceHandler = sources) -> list[str]:
    """The valid services a customer user may use: their own links plus the default services.

    The reference (R131) returns the defaults only when the user has no links of their own; here the
    defaults add to every user's own services, so giving one user an extra service does not take the
    defaults away from them (docs/differences.md).
    """
    record = get_customer_user(login, registry=registry, enrich=False)
    stored_login = record.login if record is not None else login
    own = CustomerUserService.objects.filter(login=stored_login, service__validity=Validity.VALID)
    defaults = DefaultService.objects.filter(service__validity=Validity.VALID)
    names = set(own.values_list("service__name", flat=True)) | set(
        defaults.values_list("service__name", flat=True)
    )
    return sorted(names)
