"""GDPR for customer users: one document with everything the product holds about a person (Art. 15, 20),
and their anonymisation (Art. 17), on every path (API, admin) through these two functions.

Anonymising replaces the personal attributes in the product's own table with neutral values under an
opaque login, removes the preferences, keeps the tickets with the person's data taken out of their
customer fields, titles and the articles they wrote, and keeps the history with every personal value
taken out. A person held by a directory or another read-only source is refused (their data lives there),
while what the product itself holds about them is anonymised all the same.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy

from backends.errors import CustomerUserNotFound
from backends.registry import SourceHandler, sources
from core import history
from core.errors import HelpdeskError
from core.validity import Validity
from customers import two_factor
from customers.selectors import (
    additional_customer_ids,
    customer_user_service_names,
    get_customer_user,
    list_preferences,
)
from customers.services import forget_preferences, rename_in_own_data, update_customer_user
from permissions.selectors import stored_group_permissions
from provisioning.identities import forget_identities, identities_of
from tickets.selectors import tickets_of_person
from tickets.services import anonymise_tickets

NEUTRAL = {"UserFirstname": "Anonymised", "UserLastname": "Person"}
PERSONAL = ("UserTitle", "UserSalutation", "UserPhone", "UserFax", "UserMobile", "UserStreet", "UserZip",
            "UserCity", "UserCountry", "UserComment", "UserAddress", "UserDepartment")  # fmt: skip


class HeldElsewhere(HelpdeskError):
    code = "privacy.held_elsewhere"
    status = 409
    template = gettext_lazy(
        "{login!r} lives in source {source} ({name}), which this product cannot change: erase the "
        "person there. What the product itself held about them was anonymised (as {new_login!r})."
    )


def export_person(login: str, *, acting_user: Any, registry: SourceHandler = sources) -> dict[str, Any]:
    """Everything the product holds about one customer user, as one JSON-ready document; who exported
    whom is a history entry (after the document is read, so it is not part of it)."""
    record = get_customer_user(login, registry=registry, enrich=False)
    if record is None:
        raise CustomerUserNotFound(login=login)
    document = {
        "UserLogin": record.login,
        "source": record.source,
        "record": dict(record.attributes),
        "preferences": list_preferences(record.login),
        "customers": additional_customer_ids(record.login),
        "groups": stored_group_permissions(login=record.login),
        "services": customer_user_service_names(record.login),
        "tickets": tickets_of_person(record.login),
        "identities": identities_of(record.login),  # single sign-on links, what SCIM sent
        "history": [
            {
                "at": e.at.isoformat(),
                "actor": e.actor_name,
                "path": e.path,
                "action": e.action,
                "detail": history.as_of_person(e, "customer_user", record.login),
            }
            for e in history.history_of("customer_user", record.login).order_by("at", "id")
        ],
    }
    history.record("customer_user.exported", "customer_user", record.login, actor=acting_user)
    return document


@dataclass(frozen=True)
class Anonymised:
    login: str  # the person's new, opaque login in the product's own data
    refused: HeldElsewhere | None = None  # the source holds the person and could not be changed


@transaction.atomic
def anonymise_person(login: str, *, acting_user: Any, registry: SourceHandler = sources) -> Anonymised:
    """Anonymise one customer user under a new, opaque login; for a person of a read-only source, the
    product's own data about them, with `refused` saying where the rest lives."""
    record = get_customer_user(login, registry=registry, enrich=False)
    if record is None:
        raise CustomerUserNotFound(login=login)
    source = registry[record.source]
    new_login = f"anonymised-{secrets.token_hex(6)}"
    personal = [str(v) for k, v in record.attributes.items() if isinstance(v, str) and v.strip()
                and k not in ("UserCustomerID", "UserCustomerIDs", "Source", "ValidID")]  # fmt: skip
    personal.append(record.full_name)
    anonymise_tickets(record.login, new_login, personal)
    forget_preferences(record.login)
    forget_identities(record.login)
    two_factor.reset(record.login, acting_user=acting_user)
    if source.read_only:
        rename_in_own_data(record.login, new_login)
        history.anonymise(record.login, new_login, personal)
        history.record("customer_user.anonymised", "customer_user", new_login, actor=acting_user,
                       scope="the product's own data; the source is read-only")  # fmt: skip
        refusal = HeldElsewhere(login=record.login, source=record.source, name=source.config.name,
                                new_login=new_login)  # fmt: skip
        return Anonymised(new_login, refusal)
    changes = {row.attribute: "" for row in source.config.map_rows
               if row.attribute in PERSONAL and not row.read_only}  # fmt: skip
    changes |= {**NEUTRAL, "UserLogin": new_login, "UserEmail": f"{new_login}@anonymised.invalid",
                "ValidID": Validity.INVALID}  # fmt: skip
    changes = {k: v for k, v in changes.items() if source.config.row(k) is not None}
    update_customer_user(login=record.login, changes=changes, acting_user=acting_user, registry=registry)
    if source.sets_passwords:
        source.set_password(new_login, secrets.token_urlsafe(32))  # nobody knows it: no login any more
    history.anonymise(record.login, new_login, personal)
    history.record("customer_user.anonymised", "customer_user", new_login, actor=acting_user)
    return Anonymised(new_login)
