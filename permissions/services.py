"""Writes of relations and permission settings: bulk, atomic, audited, and invalidating cached answers.

Relations key customer users by login (R8), so users of every source take part alike.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backends.errors import SourceUnavailable, summarize
from backends.values import has_control_characters
from core import history
from core.actors import user_or_none
from core.errors import NotFound, ValidationFailed
from core.generations import forget_permission_answers
from core.history import record_many
from core.lookups import fold
from customers.models import (
    Customer,
    CustomerGroup,
    CustomerUserCustomer,
    CustomerUserGroup,
    CustomerUserService,
    DefaultService,
    Group,
    Service,
)
from customers.selectors import get_customer_users
from customers.services import create_customer
from permissions.models import PermissionSetting
from permissions.selectors import SETTING_KEYS, permission_types


class UnknownPermissionType(ValidationFailed):
    code = "permission.unknown_type"
    template = gettext_lazy("{permission!r} is not a permission type; allowed: {allowed}.")


class UnknownRelated(ValidationFailed):
    code = "relation.unknown"
    template = gettext_lazy("Unknown {kind}: {names}.")


def _audit(actor: Any, action: str, object_type: str, keys: Iterable[str] | str, **detail: Any) -> None:
    """One history entry per object the write touched (a bulk grant: one per customer user)."""
    keys = [keys] if isinstance(keys, str) else list(dict.fromkeys(keys))
    record_many([(action, object_type, key, detail) for key in keys], actor=actor)


def _granted_revoked(before: set, after: set) -> dict[str, list]:
    """What a replaced relation set granted and revoked, for the history."""

    def shown(items: set) -> list:
        return sorted(":".join(item) if isinstance(item, tuple) else item for item in items)

    return {"granted": shown(after - before), "revoked": shown(before - after)}


def _serialise(relation: str, key: str) -> None:
    """Replacing a relation set is delete-and-insert: writers of the same set take turns (the last one wins
    whole), by a transaction-scoped advisory lock. Measured without it: 20 parallel PUTs of a user's groups
    gave 4-11 answers 500 and a final state equal to none of the sets. SQLite serialises writers itself."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_SPACE, _lock_key(relation, key)])


_LOCK_SPACE = 0x4844  # "HD": the relation sets' advisory locks, apart from the e-mail check's


def _lock_key(relation: str, key: str) -> int:
    return zlib.crc32(f"{relation}:{key.lower()}".encode()) - 2**31  # a signed 32-bit key


def _check_types(permissions: Iterable[str], field: str = "permission", *, on: str = "") -> list[str]:
    """The configured types among `permissions` (`on` names the group or login they are for)."""
    allowed = permission_types()
    where = _(" (on %(name)r)") % {"name": on} if on else ""
    if isinstance(permissions, str | bytes) or not all(isinstance(p, str) for p in permissions):
        problem = _("Must be a list of permission types%(where)s, not %(value)r.")
        raise ValidationFailed({field: [problem % {"where": where, "value": permissions}]},
                               detail=problem % {"where": where, "value": permissions})  # fmt: skip
    permissions = list(dict.fromkeys(permissions))
    for permission in permissions:
        if permission not in allowed:
            message = _("%(permission)r%(where)s is not one of %(allowed)s.") % {
                "permission": permission,
                "where": where,
                "allowed": ", ".join(allowed),
            }
            raise UnknownPermissionType({field: [message]}, permission=permission, allowed=", ".join(allowed))
    return ["rw"] if "rw" in permissions else permissions  # R101/R102: rw stands for every type


def _logins(logins: Iterable[str]) -> list[str]:
    """The stored logins of the named customer users, in the order given, without repeats."""
    return list(dict.fromkeys(_stored_logins(logins).values()))


def _stored_logins(logins: Iterable[str]) -> dict[str, str]:
    """Each named login → its stored login; unknown ones are refused.

    Relations are keyed by the stored login (R8), so `ALICE` given for `alice` is stored as `alice`.
    """
    logins = [login for login in dict.fromkeys(logins) if login]
    found, unavailable = get_customer_users(logins)
    missing = [login for login in logins if login.casefold() not in found]
    if missing and unavailable:
        detail = _("cannot tell whether %(logins)s exist") % {"logins": ", ".join(missing)}
        raise SourceUnavailable(alias=", ".join(unavailable), operation="get", detail=detail)
    if missing:
        problems = [_("No customer user %(login)r.") % {"login": login} for login in missing]
        raise UnknownRelated({"login": problems}, kind=_("customer users"), names=", ".join(missing))
    return {login: found[login.casefold()].login for login in logins}


def _groups(names: Iterable[str]) -> dict[str, Group]:
    """Each named group → the group, found case-blind (core.lookups); unknown ones are refused."""
    names = list(dict.fromkeys(names))
    found = {g.name.lower(): g for g in Group.objects.filter(name__ci_in=names)}
    missing = [n for n in names if n.lower() not in found]
    if missing:
        raise UnknownRelated(
            {"group": [_("No group %(name)r.") % {"name": n} for n in missing]},
            kind=_("groups"),
            names=", ".join(missing),
        )
    return {n: found[n.lower()] for n in names}


def _customers(customer_ids: Iterable[str]) -> list[str]:
    """The stored IDs of the named customers, found case-blind; unknown ones are refused."""
    ids = list(dict.fromkeys(customer_ids))
    found = {
        c.lower(): c
        for c in Customer.objects.filter(customer_id__ci_in=ids).values_list("customer_id", flat=True)
    }
    missing = [c for c in ids if c.lower() not in found]
    if missing:
        problems = [_("No customer %(id)r.") % {"id": c} for c in missing]
        raise UnknownRelated({"customer_id": problems}, kind=_("customers"), names=", ".join(missing))
    return list(dict.fromkeys(found[c.lower()] for c in ids))


def _services(names: Iterable[str]) -> dict[str, Service]:
    names = list(dict.fromkeys(names))
    found = {s.name.lower(): s for s in Service.objects.filter(name__ci_in=names)}
    missing = [n for n in names if n.lower() not in found]
    if missing:
        problems = [_("No service %(name)r.") % {"name": n} for n in missing]
        raise UnknownRelated({"service": problems}, kind=_("services"), names=", ".join(missing))
    return {n: found[n.lower()] for n in names}


# --------------------------------------------------------------------------- customer user ↔ group
@transaction.atomic
def grant_group_permissions(
    *, logins: Iterable[str], groups: Iterable[str], permissions: Iterable[str], acting_user: Any
) -> int:
    """R101 in bulk: many users × many groups; types not named are left untouched. Return rows added."""
    kept = _check_types(permissions)
    found = _groups(groups)
    logins = _logins(logins)
    existing = set(
        CustomerUserGroup.objects.filter(
            login__in=logins, group__in=found.values(), permission__in=kept
        ).values_list("login", "group_id", "permission")
    )
    rows = [
        CustomerUserGroup(
            login=login, group=group, permission=permission, created_by=user_or_none(acting_user)
        )
        for login in logins
        for group in found.values()
        for permission in kept
        if (login, group.pk, permission) not in existing
    ]
    CustomerUserGroup.objects.bulk_create(rows, ignore_conflicts=True)  # a concurrent grant is no error
    _audit(acting_user, "group_permission.granted", "customer_user", logins, groups=sorted(found),
           permissions=kept)  # fmt: skip
    forget_permission_answers()
    return len(rows)


@transaction.atomic
def revoke_group_permissions(
    *, logins: Iterable[str], groups: Iterable[str], permissions: Iterable[str], acting_user: Any
) -> int:
    """Remove the named types; return rows removed."""
    permissions = list(dict.fromkeys(permissions))
    _check_types(permissions)
    found = _groups(groups)
    logins = list(dict.fromkeys(logins))
    removed, _by_model = CustomerUserGroup.objects.filter(
        login__ci_in=logins, group__in=found.values(), permission__in=permissions
    ).delete()  # the key rule (core.lookups): `ALICE` revokes what granting `ALICE` stored as `alice`
    _audit(acting_user, "group_permission.revoked", "customer_user", logins, groups=sorted(found),
           permissions=permissions)  # fmt: skip
    forget_permission_answers()
    return removed


@transaction.atomic
def set_customer_user_groups(
    *, login: str, permissions: Mapping[str, Iterable[str]], acting_user: Any
) -> None:
    """Replace every group permission of one customer user with `{group: [types]}`."""
    found = _groups(permissions)
    wanted = {(name, t) for name, types in permissions.items() for t in _check_types(types, name, on=name)}
    (login,) = _logins([login])
    _serialise("customer_user_groups", login)
    before = set(CustomerUserGroup.objects.filter(login=login).values_list("group__name", "permission"))
    CustomerUserGroup.objects.filter(login=login).delete()
    CustomerUserGroup.objects.bulk_create([
        CustomerUserGroup(login=login, group=found[name], permission=t, created_by=user_or_none(acting_user))
        for name, t in sorted(wanted)
    ])  # fmt: skip
    _audit(acting_user, "group_permission.set", "customer_user", login,
           permissions={k: sorted(v) for k, v in permissions.items()},
           **_granted_revoked(before, wanted))  # fmt: skip
    forget_permission_answers()


@transaction.atomic
def set_group_customer_users(
    *, group: str, permissions: Mapping[str, Iterable[str]], acting_user: Any
) -> None:
    """Replace who holds which types directly on one group: `{login: [types]}` (many users, one group)."""
    found = _groups([group])[group]
    permissions = {login: types for login, types in permissions.items() if login}
    logins = _stored_logins(permissions)
    wanted = {
        (logins[login], t)
        for login, types in permissions.items()
        for t in _check_types(types, login, on=login)
    }
    _serialise("group_customer_users", found.name)
    CustomerUserGroup.objects.filter(group=found).delete()
    CustomerUserGroup.objects.bulk_create([
        CustomerUserGroup(login=login, group=found, permission=t, created_by=user_or_none(acting_user))
        for login, t in sorted(wanted)
    ])  # fmt: skip
    _audit(acting_user, "group_permission.set", "group", found.name,
           permissions={logins[k]: sorted(v) for k, v in permissions.items()})  # fmt: skip
    forget_permission_answers()


# -------------------------------------------------------------------------------- customer ↔ group
@transaction.atomic
def set_customer_groups(
    *, customer_id: str, permissions: Mapping[str, Iterable[str]], acting_user: Any,
    context: str = CustomerGroup.SAME,
) -> None:  # fmt: skip
    """R102: replace the customer's permissions in one context; only configured types are stored."""
    (customer_id,) = _customers([customer_id])
    if context not in (CustomerGroup.SAME, CustomerGroup.OTHER):
        raise ValidationFailed(
            {"context": [_("Unknown context %(context)r.") % {"context": context}]}, detail="Unknown context."
        )
    found = _groups(permissions)
    wanted = {(name, t) for name, types in permissions.items() for t in _check_types(types, name, on=name)}
    _serialise("customer_groups", f"{customer_id}:{context}")
    stored = CustomerGroup.objects.filter(customer_id=customer_id, context=context)
    before = set(stored.values_list("group__name", "permission"))
    stored.delete()
    CustomerGroup.objects.bulk_create([
        CustomerGroup(customer_id=customer_id, group=found[name], permission=t, context=context,
                      created_by=user_or_none(acting_user))
        for name, t in sorted(wanted)
    ])  # fmt: skip
    _audit(acting_user, "customer_group.set", "customer", customer_id, context=context,
           permissions={k: sorted(v) for k, v in permissions.items()},
           **_granted_revoked(before, wanted))  # fmt: skip
    forget_permission_answers()


@transaction.atomic
def set_customer_groups_in_contexts(
    *, customer_id: str, permissions: Mapping[str, Mapping[str, Iterable[str]]], acting_user: Any
) -> None:
    """Replace the customer's permissions in several contexts (`{context: {group: [types]}}`) at once."""
    for context, wanted in permissions.items():
        set_customer_groups(
            customer_id=customer_id, permissions=wanted, acting_user=acting_user, context=context
        )


# -------------------------------------------------------------------------- customer user ↔ customer
@transaction.atomic
def set_additional_customers(*, login: str, customer_ids: Iterable[str], acting_user: Any) -> None:
    """Replace the additional customers of a customer user (R4)."""
    ids = _customers(customer_ids)
    (login,) = _logins([login])
    _serialise("customer_user_customers", login)
    before = set(CustomerUserCustomer.objects.filter(login=login).values_list("customer_id", flat=True))
    CustomerUserCustomer.objects.filter(login=login).delete()
    CustomerUserCustomer.objects.bulk_create(
        [CustomerUserCustomer(login=login, customer_id=c, created_by=user_or_none(acting_user)) for c in ids]
    )
    _audit(acting_user, "customer_user_customer.set", "customer_user", login, customer_ids=ids,
           **_granted_revoked(before, set(ids)))  # fmt: skip
    forget_permission_answers()


@transaction.atomic
def add_customer_users_to_customer(*, logins: Iterable[str], customer_id: str, acting_user: Any) -> int:
    (customer_id,) = _customers([customer_id])
    logins = _logins(logins)
    existing = set(
        CustomerUserCustomer.objects.filter(login__in=logins, customer_id=customer_id).values_list(
            "login", flat=True
        )
    )
    rows = [CustomerUserCustomer(login=login, customer_id=customer_id, created_by=user_or_none(acting_user))
            for login in logins if login not in existing]  # fmt: skip
    CustomerUserCustomer.objects.bulk_create(rows, ignore_conflicts=True)
    _audit(acting_user, "customer_user_customer.added", "customer_user", [r.login for r in rows],
           customer_id=customer_id)  # fmt: skip
    forget_permission_answers()
    return len(rows)


@transaction.atomic
def remove_customer_users_from_customer(*, logins: Iterable[str], customer_id: str, acting_user: Any) -> int:
    """Remove `customer_id` from the additional customers of many users; return rows removed."""
    (customer_id,) = _customers([customer_id])
    logins = list(dict.fromkeys(logins))
    removed, _by_model = CustomerUserCustomer.objects.filter(
        login__ci_in=logins, customer_id=customer_id
    ).delete()
    _audit(acting_user, "customer_user_customer.removed", "customer_user", logins, customer_id=customer_id)
    forget_permission_answers()
    return removed


# ---------------------------------------------------------------------------------------- services
@transaction.atomic
def set_customer_user_services(*, login: str, services: Iterable[str], acting_user: Any) -> None:
    """Replace the services of a customer user (R130)."""
    found = _services(services)
    (login,) = _logins([login])
    _serialise("customer_user_services", login)
    before = set(CustomerUserService.objects.filter(login=login).values_list("service__name", flat=True))
    CustomerUserService.objects.filter(login=login).delete()
    CustomerUserService.objects.bulk_create(
        [
            CustomerUserService(login=login, service=s, created_by=user_or_none(acting_user))
            for s in found.values()
        ]
    )
    _audit(acting_user, "customer_user_service.set", "customer_user", login, services=sorted(found),
           **_granted_revoked(before, set(found)))  # fmt: skip


@transaction.atomic
def add_customer_users_to_service(*, logins: Iterable[str], service: str, acting_user: Any) -> int:
    """R130 (Active=1) for many users at once; return rows added."""
    found = _services([service])[service]
    logins = _logins(logins)
    existing = set(
        CustomerUserService.objects.filter(login__in=logins, service=found).values_list("login", flat=True)
    )
    rows = [CustomerUserService(login=login, service=found, created_by=user_or_none(acting_user))
            for login in logins if login not in existing]  # fmt: skip
    CustomerUserService.objects.bulk_create(rows, ignore_conflicts=True)
    _audit(
        acting_user, "customer_user_service.added", "customer_user", [r.login for r in rows], service=service
    )
    return len(rows)


@transaction.atomic
def remove_customer_users_from_service(*, logins: Iterable[str], service: str, acting_user: Any) -> int:
    """R130 (Active=0) for many users at once; return rows removed (the reference returns false)."""
    found = _services([service])[service]
    logins = list(dict.fromkeys(logins))
    removed, _by_model = CustomerUserService.objects.filter(login__ci_in=logins, service=found).delete()
    _audit(acting_user, "customer_user_service.removed", "customer_user", logins, service=service)
    return removed


@transaction.atomic
def set_default_services(*, services: Iterable[str], acting_user: Any) -> None:
    """Replace the default services (the reference's `<DEFAULT>` login)."""
    found = _services(services)
    _serialise("default_services", "")
    DefaultService.objects.all().delete()
    DefaultService.objects.bulk_create([DefaultService(service=s, created_by=user_or_none(acting_user))
                                        for s in found.values()])  # fmt: skip
    _audit(acting_user, "default_service.set", "setting", "DefaultServices", services=sorted(found))


# ------------------------------------------------------------------------------------------ settings
@transaction.atomic
def set_permission_setting(*, key: str, value: Any, acting_user: Any) -> None:
    """Change a global option at run time (stored, logged, and effective at once)."""
    if key not in SETTING_KEYS:
        problem = _("Unknown setting %(key)r; one of %(keys)s.") % {
            "key": key,
            "keys": ", ".join(SETTING_KEYS),
        }
        raise ValidationFailed({"key": [problem]}, detail=problem)
    if key == "CustomerDisableCompanyTicketAccess":
        if value not in (0, 1, True, False):
            raise ValidationFailed(
                {key: [_("Must be 0 or 1, not %(value)r.") % {"value": value}]},
                detail=_("%(key)s must be 0 or 1.") % {"key": key},
            )
        value = int(value)
    elif not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValidationFailed(
            {key: [_("Must be a list of non-empty names.")]},
            detail=_("%(key)s must be a list of non-empty names.") % {"key": key},
        )
    elif key == "CustomerPermissionTypes" and ("ro" not in value or "rw" not in value):
        raise ValidationFailed(
            {key: [_("Must contain ro and rw.")]}, detail=_("Permission types need ro and rw.")
        )
    old = PermissionSetting.objects.filter(key=key).values_list("value", flat=True).first()
    PermissionSetting.objects.update_or_create(
        key=key, defaults={"value": value, "changed_by": user_or_none(acting_user)}
    )
    _audit(acting_user, "setting.changed", "setting", key, old=old, new=value)
    forget_permission_answers()


# ------------------------------------------------------------------------------ groups and services
NAMED_FIELDS = ("name", "comments", "validity")
NAMED_MESSAGES = {
    "group": {
        "missing": gettext_lazy("There is no group %(name)r."),
        "unknown": gettext_lazy("Unknown group fields: %(names)s."),
        "control": gettext_lazy("The group name %(name)r must not contain control characters."),
        "taken": gettext_lazy("A group %(clash)r exists already; names are compared case-blind."),
    },
    "service": {
        "missing": gettext_lazy("There is no service %(name)r."),
        "unknown": gettext_lazy("Unknown service fields: %(names)s."),
        "control": gettext_lazy("The service name %(name)r must not contain control characters."),
        "taken": gettext_lazy("A service %(clash)r exists already; names are compared case-blind."),
    },
}


def create_group(*, acting_user: Any, **values: Any) -> Group:
    """Add a group; its name must be new whatever its case (core.lookups)."""
    return _save_named(Group(), values, acting_user=acting_user)


def update_group(*, name: str, changes: Mapping[str, Any], acting_user: Any) -> Group:
    """Change the group called `name` (a new name among the changes renames it); setting it invalid takes
    it out of every answer at once (R103 needs valid groups)."""
    return _save_named(_named(Group, name), changes, acting_user=acting_user)


def create_service(*, acting_user: Any, **values: Any) -> Service:
    return _save_named(Service(), values, acting_user=acting_user)


def update_service(*, name: str, changes: Mapping[str, Any], acting_user: Any) -> Service:
    return _save_named(_named(Service, name), changes, acting_user=acting_user)


def _named(model: type[Group] | type[Service], name: str) -> Group | Service:
    found = model.objects.select_for_update().filter(name__ci=name).first()
    if found is None:
        raise NotFound(detail=NAMED_MESSAGES[model._meta.model_name]["missing"] % {"name": name})
    return found


@transaction.atomic
def _save_named(obj: Group | Service, values: Mapping[str, Any], *, acting_user: Any) -> Group | Service:
    kind = obj._meta.model_name
    messages = NAMED_MESSAGES[kind]
    unknown = sorted(set(values) - set(NAMED_FIELDS))
    if unknown:
        raise ValidationFailed(
            {f: [_("Unknown field.")] for f in unknown},
            detail=messages["unknown"] % {"names": ", ".join(unknown)},
        )
    before = {f: getattr(obj, f) for f in NAMED_FIELDS} if obj.pk else {}
    for field, value in values.items():
        setattr(obj, field, value.strip() if isinstance(value, str) else value)
    if has_control_characters(str(obj.name)):
        problem = messages["control"] % {"name": obj.name}
        raise ValidationFailed({"name": [problem]}, detail=problem)
    clash = (
        type(obj).objects.filter(name__ci=obj.name).exclude(pk=obj.pk).values_list("name", flat=True).first()
    )
    if clash is not None:
        problem = messages["taken"] % {"clash": clash}
        raise ValidationFailed({"name": [problem]}, detail=problem)
    try:
        obj.full_clean(validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        errors = {f: [str(m) for m in ms] for f, ms in exc.message_dict.items()}
        raise ValidationFailed(errors, detail=summarize(errors)) from exc
    user = user_or_none(acting_user)
    if not obj.pk:
        obj.created_by = user
    obj.changed_by = user
    obj.save()
    after = {f: getattr(obj, f) for f in NAMED_FIELDS}
    changed = {f: [before.get(f), after[f]] for f in NAMED_FIELDS if before.get(f) != after[f]}
    _audit(acting_user, f"{kind}.{'changed' if before else 'created'}", kind, obj.name, changes=changed)
    forget_permission_answers()  # a group's name or validity is part of every matrix (R103)
    return obj


# ------------------------------------------------------------------------------ directory rules' targets
def create_rule_targets(
    alias: str, companies: Iterable[Any], groups: Iterable[Any], *, by: tuple[str, str] | None = None
) -> None:
    """The customers and customer groups that rules marked `CreateMissing = true` give and that do not
    exist yet, made on first use through the same services as the admin's, each a history entry naming
    the source and the rule (`directory:<alias>`; an identity provider's rules name the provider, `by` =
    (path, name)). Another request making the same one first is fine."""
    path, actor = by or ("directory", f"directory:{alias}")
    wanted = {
        Customer: {d.name: d.reason for d in companies if d.create_missing},
        Group: {d.name: d.reason for d in groups if d.create_missing},
    }
    for model, names in wanted.items():
        if not names:
            continue
        field = "customer_id" if model is Customer else "name"
        existing = {fold(n) for n in model.objects.filter(**{f"{field}__ci_in": list(names)})
                    .values_list(field, flat=True)}  # fmt: skip
        for name, reason in names.items():
            if fold(name) in existing:
                continue
            with history.acting(path=path, name=actor):
                try:
                    if model is Customer:
                        create_customer(acting_user=None, customer_id=name, name=name, comments=reason[:250])
                    else:
                        create_group(acting_user=None, name=name, comments=reason[:250])
                except ValidationFailed:
                    if not model.objects.filter(**{f"{field}__ci": name}).exists():
                        raise  # not a race with another request: the name itself is refused
