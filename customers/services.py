"""Writes of customers and customer users. Keyword-only, atomic, and the one place these rules live.

Customer users are written through the source registry (R25–R28); relations and preferences follow a
renamed login (unlike the reference, W10).
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backends.base import RESERVED_ATTRIBUTES, CustomerUserRecord
from backends.errors import CustomerUserInvalid, CustomerUserNotFound, login_taken, summarize
from backends.registry import SourceHandler, sources
from backends.values import has_control_characters, value_errors
from core import history
from core.actors import user_or_none
from core.errors import NotFound, ValidationFailed
from core.generations import forget_customer_user_answers, forget_permission_answers
from core.lookups import fold
from customers.models import (
    COMPANY_ATTRIBUTES,
    Customer,
    CustomerUserCustomer,
    CustomerUserGroup,
    CustomerUserPreference,
    CustomerUserService,
    Validity,
)
from customers.passwords import password_errors
from customers.rules import (
    customer_id_taken_problem,
    customer_name_taken_problem,
    customer_problems,
    email_domain_taken_problem,
    no_customer_problem,
    stored_customer_ids,
    taken_customer_names,
    taken_email_domains,
)
from customers.selectors import SESSION_VERSION, get_customer_user
from customers.signals import customer_renamed, customer_user_renamed

logger = logging.getLogger(__name__)


class ReservedPreference(ValidationFailed):
    code = "preference.reserved"
    template = gettext_lazy("{key!r} is reserved for customer user data and cannot be a preference (R136).")


class CustomerInvalid(ValidationFailed):
    code = "customer.invalid"
    template = gettext_lazy("Customer {customer_id!r} was not saved: {summary}")


# --------------------------------------------------------------------------------------- customer users
def create_customer_user(
    *,
    attributes: Mapping[str, Any],
    acting_user: Any,
    source: str = "CustomerUser",
    registry: SourceHandler = sources,
    generate_password: bool = True,
) -> tuple[CustomerUserRecord, str | None]:
    """Add a customer user to `source` (R25, R56). Return the record and the password if one was generated.

    A login that exists in any source is refused. Without a password a random one is set and returned,
    so the caller can hand it over once; it is never stored or logged in clear. A path whose people sign
    in elsewhere (SCIM: their identity provider) asks for none: they have no password until they set one
    by the panel's "lost password" (a hash nobody will use is not computed on every create).
    """
    backend = registry[source]
    _check_values(backend.config, attributes, login=str(attributes.get("UserLogin") or ""), person=attributes)
    values = {k: v for k, v in attributes.items() if k != "UserPassword"}
    login = str(values.get("UserLogin") or "").strip()
    _check_customer_exists(backend, values, login=login)
    if login and get_customer_user(login, registry=registry, enrich=False, fresh=True) is not None:
        raise login_taken(login)
    password = str(attributes.get("UserPassword") or "")
    generated = None
    if not password and backend.sets_passwords and generate_password:
        generated = password = generate_random_password(registry=registry)
    with transaction.atomic():
        stores_passwords = backend.sets_passwords
        record = backend.add(values, acting_user=acting_user, password=password if stores_passwords else "")
        written = {k: v for k, v in record.attributes.items() if backend.config.row(k) is not None}
        if password and stores_passwords:
            written["UserPassword"] = "password set"
        history.record(
            "customer_user.created",
            "customer_user",
            record.login,
            actor=acting_user,
            source=source,
            changes=history.changes({}, written),
        )
        forget_customer_user_answers(source)  # R108: a cached answer about this login is now wrong
    logger.info("customer user %s added to %s by %s", record.login, source, _actor(acting_user))
    return record, generated


def update_customer_user(
    *,
    login: str,
    changes: Mapping[str, Any],
    acting_user: Any,
    replace: bool = False,
    registry: SourceHandler = sources,
) -> CustomerUserRecord:
    """Change attributes of a customer user in its own source (R26): only those named, or with `replace`
    the whole record as the reference's update does (R58: every writable Map attribute left out becomes
    empty, so a required one left out is refused).

    A changed login must not exist in any source; preferences and every relation move with it (W10).
    """
    # The record as its source holds it: a change writes the Map's attributes, not the company's or the
    # preferences that a data get merges in (R21, R137).
    current = get_customer_user(login, registry=registry, enrich=False, fresh=True)
    if current is None:
        raise CustomerUserNotFound(login=login)
    backend = registry[current.source]
    _check_values(backend.config, changes, login=current.login)
    map_attributes = {row.attribute for row in backend.config.map_rows}
    values = {k: v for k, v in current.attributes.items() if k in map_attributes}
    if replace:
        values.update(
            (row.attribute, "")
            for row in backend.config.map_rows
            if not (row.read_only or row.is_password or row.is_dynamic_field)
        )
    values.update({k: v for k, v in changes.items() if k != "UserPassword"})
    _check_customer_exists(backend, values, login=current.login, current=current)
    new_login = str(values.get("UserLogin") or "").strip()
    renamed = new_login.casefold() != current.login.casefold()
    if renamed and get_customer_user(new_login, registry=registry) is not None:
        raise login_taken(current.login, taken=new_login)
    with transaction.atomic():
        record = backend.update(current.login, values, acting_user=acting_user)
        if record.login != current.login:
            _move_login(current.login, record.login)
        before = {k: v for k, v in current.attributes.items() if k in map_attributes}
        after = {k: v for k, v in record.attributes.items() if k in map_attributes}
        history.record(
            "customer_user.changed",
            "customer_user",
            record.login,
            actor=acting_user,
            source=current.source,
            changes=history.changes(before, after),
        )
        forget_customer_user_answers(current.source)  # R108: any customer-user write may change a permission
    logger.info("customer user %s updated in %s by %s", record.login, current.source, _actor(acting_user))
    return record


def _check_values(
    config: Any, values: Mapping[str, Any], *, login: str, person: Mapping[str, Any] | None = None
) -> None:
    """The shape of every value, before any source sees it (backends.values); a new password is checked
    against the password policy (customers.passwords) of the customer user `person`."""
    errors = value_errors(config, values)
    password = values.get("UserPassword")
    if not errors and person is not None and isinstance(password, str) and password:
        problems = password_errors(password, dict(person))
        if problems:
            errors = {
                "UserPassword": [
                    _("The password is refused: %(problems)s") % {"problems": " ".join(problems)}
                ]
            }
    if errors:
        raise CustomerUserInvalid(errors, login=login, summary=summarize(errors))


def _check_customer_exists(
    backend: Any, values: dict[str, Any], *, login: str, current: CustomerUserRecord | None = None
) -> None:
    """R56, R148: with CustomerCompanySupport a customer user belongs to an existing customer, whatever its
    source (a directory too), found by the one key rule and written in its stored spelling (`acme` typed
    for `ACME` stores `ACME`); an unchanged customer ID is not checked again. Refused with every other
    problem the source finds, so a form shows them all at once."""
    customer_id = str(values.get("UserCustomerID") or "").strip()
    if not customer_id or not backend.config.company_support:
        return
    if current is not None and customer_id == current.customer_id:
        return
    stored = stored_customer_ids([customer_id]).get(fold(customer_id))
    if stored is not None:
        values["UserCustomerID"] = stored
        return
    errors = backend.validate(values if current else {"ValidID": Validity.VALID, **values}, current)
    errors.setdefault("UserCustomerID", []).append(no_customer_problem(customer_id))
    raise CustomerUserInvalid(errors, login=login, summary=summarize(errors))


def begin_panel_view(*, login: str, acting_user: Any) -> CustomerUserRecord:
    """A staff user is about to see the panel as this customer user (read-only): a history entry, since it
    shows the person's tickets and data to someone else."""
    record = get_customer_user(login)
    if record is None:
        raise CustomerUserNotFound(login=login)
    history.record("customer_user.panel_viewed", "customer_user", record.login, actor=acting_user)
    return record


def forget_preferences(login: str) -> int:
    """Remove every preference of a customer user (their anonymisation); return how many."""
    removed, _by_model = CustomerUserPreference.objects.filter(login=login).delete()
    if removed:
        history.record("customer_user.preferences_removed", "customer_user", login, count=removed)
    return removed


def rename_in_own_data(old: str, new: str) -> None:
    """The product's own data about a login (relations, preferences, tickets) under a new login, while the
    source keeps the old one (a read-only source's person being anonymised here)."""
    _move_login(old, new)
    forget_customer_user_answers(*sources.aliases)


def _move_login(old: str, new: str) -> None:
    """R60 moves preferences; we move every relation too (W10), and the tickets follow (R121)."""
    for model in (CustomerUserPreference, CustomerUserCustomer, CustomerUserGroup, CustomerUserService):
        model.objects.filter(login=old).update(login=new)
    customer_user_renamed.send(sender=CustomerUserPreference, old_login=old, new_login=new)


def invalidate_customer_user(
    *,
    login: str,
    acting_user: Any,
    validity: int = Validity.INVALID,
    registry: SourceHandler = sources,
) -> CustomerUserRecord:
    """Invalidation replaces deletion (R59): set the validity; the row, relations and preferences stay."""
    if validity == Validity.VALID:
        raise ValidationFailed(
            {"ValidID": [_("Invalidation needs an invalid validity (2 or 3).")]},
            detail=_("Invalidation needs an invalid validity (2 or 3)."),
        )
    return update_customer_user(
        login=login, changes={"ValidID": int(validity)}, acting_user=acting_user, registry=registry
    )


def set_customer_user_password(
    *, login: str, password: str, acting_user: Any, registry: SourceHandler = sources, reset: bool = False
) -> None:
    """R27/R90: set the password in the user's own source, hashed with Django's hasher."""
    current = get_customer_user(login, registry=registry)
    if current is None:
        raise CustomerUserNotFound(login=login)
    _check_values(
        registry[current.source].config,
        {"UserPassword": password},
        login=current.login,
        person=current.attributes,
    )
    registry[current.source].set_password(current.login, password)
    CustomerUserPreference.objects.update_or_create(  # every panel session of the user ends
        login=current.login, key=SESSION_VERSION, defaults={"value": secrets.token_hex(8)}
    )
    history.record(
        "customer_user.password_set",
        "customer_user",
        current.login,
        actor=acting_user,
        changes={"UserPassword": ["", "password reset" if reset else "password set"]},
    )
    logger.info("password of customer user %s set by %s", current.login, _actor(acting_user))


def generate_random_password(*, size: int = 8, registry: SourceHandler = sources) -> str:
    """R28: generated by the first source (at least 8 characters here: a shorter one is no password)."""
    first = next(registry.in_order(), None)
    size = max(size, 8)
    if first is None:
        alphabet = string.ascii_letters + string.digits
        return "".join(secrets.choice(alphabet) for _ in range(size))
    return first.generate_random_password(size)


def set_customer_user_preference(*, login: str, key: str, value: str | None) -> None:
    """R135/R136: store one preference; keys that shadow user data are refused."""
    if key in RESERVED_ATTRIBUTES:
        raise ReservedPreference({"key": [f"{key!r} is reserved (R136)."]}, key=key)
    text = "" if value is None else str(value)
    if len(text) > 250:
        raise ValidationFailed(
            {
                "value": [
                    _("A preference value has at most 250 characters, not %(length)d.")
                    % {"length": len(text)}
                ]
            },
            detail=_("The preference value is too long."),
        )
    old = CustomerUserPreference.objects.filter(login=login, key=key).values_list("value", flat=True).first()
    CustomerUserPreference.objects.update_or_create(login=login, key=key, defaults={"value": text})
    if old != text:
        history.record(
            "customer_user.preference_set", "customer_user", login, changes={key: [old or "", text]}
        )


# --------------------------------------------------------------------------------------------- customers
CUSTOMER_FIELDS = (*COMPANY_ATTRIBUTES.values(), "validity")


def create_customer(*, acting_user: Any, **values: Any) -> Customer:
    """Add a customer (company); the customer ID and the name must be new, also among invalid ones (R154)."""
    customer = Customer(**_customer_values(values))
    customer.created_by = customer.changed_by = user_or_none(acting_user)
    with transaction.atomic():
        _save_customer(customer)
        history.record(
            "customer.created",
            "customer",
            customer.customer_id,
            actor=acting_user,
            changes=history.changes({}, _customer_fields(customer)),
        )
    return customer


def update_customer(*, customer_id: str, changes: Mapping[str, Any], acting_user: Any) -> Customer:
    """Change the customer `customer_id` (found case-blind); a changed customer ID is followed by its
    users, relations and tickets (R121). Every path (admin, API, command) renames through here."""
    with transaction.atomic():
        customer = Customer.objects.select_for_update().filter(customer_id__ci=customer_id).first()
        if customer is None:
            raise NotFound(detail=_("There is no customer %(id)r.") % {"id": customer_id})
        old_id = customer.customer_id
        before = _customer_fields(customer)
        for name, value in _customer_values(changes).items():
            setattr(customer, name, value)
        customer.changed_by = user_or_none(acting_user)
        if customer.customer_id != old_id:
            _rename_customer_id(customer, old_id)
        else:
            _save_customer(customer)
            forget_permission_answers()  # R108: any customer-user write may change a permission
        history.record(
            "customer.changed",
            "customer",
            customer.customer_id,
            actor=acting_user,
            changes=history.changes(before, _customer_fields(customer)),
        )
    return customer


def _customer_fields(customer: Customer) -> dict[str, Any]:
    return {
        name: getattr(customer, field)
        for name, field in {**COMPANY_ATTRIBUTES, "ValidID": "validity"}.items()
    }


def _rename_customer_id(customer: Customer, old_id: str) -> None:
    from customers.models import CustomerGroup, CustomerUser

    new_id = customer.customer_id
    _check_customer(customer)
    # Relations point at the customer ID; their foreign keys are deferred until commit.
    Customer.objects.filter(pk=customer.pk).update(customer_id=new_id)
    CustomerUserCustomer.objects.filter(customer_id=old_id).update(customer_id=new_id)
    CustomerGroup.objects.filter(customer_id=old_id).update(customer_id=new_id)
    CustomerUser.objects.filter(customer_id=old_id).update(customer_id=new_id)
    customer_renamed.send(sender=Customer, old_id=old_id, new_id=new_id)
    _save_customer(customer)
    forget_customer_user_answers(*sources.aliases)  # its customer users changed (R108, R11)


def invalidate_customer(*, customer_id: str, acting_user: Any, validity: int = Validity.INVALID) -> Customer:
    return update_customer(customer_id=customer_id, changes={"validity": validity}, acting_user=acting_user)


def _customer_values(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(CUSTOMER_FIELDS)
    if unknown:
        raise ValidationFailed(
            {name: [_("Unknown field.")] for name in sorted(unknown)},
            detail=_("Unknown customer fields: %(names)s.") % {"names": ", ".join(sorted(unknown))},
        )
    return {k: (v.strip() if isinstance(v, str) else v) for k, v in values.items()}


def _check_customer(customer: Customer) -> None:
    """The rules of customers.rules, as every other path applies them; the first kind of problem found is
    refused alone (control characters, then a taken ID, then the rest)."""
    errors = customer_problems(customer)
    customer_id = customer.customer_id
    if has_control_characters(customer_id or ""):
        raise CustomerInvalid(
            {"customer_id": errors["customer_id"][:1]},
            customer_id=customer_id,
            summary=_("control characters"),
        )
    taken = stored_customer_ids([customer_id], exclude_pk=customer.pk) if customer_id else {}
    other = taken.get(fold(customer_id or ""))
    if other is not None:  # one customer per ID whatever its case: ticket access compares them so (R118)
        raise CustomerInvalid(
            {"customer_id": [customer_id_taken_problem(customer_id, other)]},
            customer_id=customer_id,
            summary=_("customer ID taken by %(taken)r") % {"taken": other},
        )
    if customer.name and taken_customer_names([customer.name], exclude_pk=customer.pk):
        errors.setdefault("name", []).append(customer_name_taken_problem())
    for domain, holder in taken_email_domains(customer.email_domains.split(), exclude_pk=customer.pk).items():
        errors.setdefault("email_domains", []).append(email_domain_taken_problem(domain, holder))
    if errors:
        raise CustomerInvalid(errors, customer_id=customer_id, summary=summarize(errors))


def _save_customer(customer: Customer) -> None:
    _check_customer(customer)
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError as exc:
        raise CustomerInvalid(
            {"customer_id": [_("A customer with this customer ID or name already exists.")]},
            customer_id=customer.customer_id,
            summary=_("the customer ID or name is taken"),
        ) from exc


def _actor(user: Any) -> str:
    return getattr(user, "get_username", lambda: "system")() if user is not None else "system"
