"""SCIM 2.0 users and groups (RFC 7643, RFC 7644) on the customer-user services (issue 38).

A SCIM client sees the customer users of its companies in its source and nobody else (another company's
users do not exist for it: 404). Every write is a call of the same services the admin and the API call
(`customers.services`, `permissions.services`), under the client's name in the history (`scim:<name>`). A
user resource is the record read through the source's Map (`ScimMap`: which SCIM attribute is which Map
attribute) plus what SCIM holds that the Map does not (provisioning.models.ScimUser). PATCH applies its
operations to the resource as read and writes the result as PUT does, so both keep one set of rules.
"""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from backends.errors import email_taken_message, login_taken_message
from backends.registry import SourceHandler, sources
from core import history
from core.errors import HelpdeskError
from core.lookups import fold
from core.validity import Validity
from customers.models import CustomerUser
from customers.services import create_customer_user, update_customer_user
from permissions.services import (
    add_customer_users_to_customer,
    grant_group_permissions,
    remove_customer_users_from_customer,
    revoke_group_permissions,
)
from provisioning import scim_filter
from provisioning.models import ScimClient, ScimGroup, ScimUser

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
MAX_COUNT = 1000  # a page's largest `count` (ServiceProviderConfig says so)
MEMORY_SCAN = 10_000  # a filter decided in memory reads at most this many candidates

# The shipped Map's attributes by SCIM path; `ScimMap` on a source changes or extends these (an empty
# value unmaps one). userName, the primary e-mail and active are fixed: UserLogin, UserEmail, ValidID.
DEFAULT_SCIM_MAP = {
    "name.givenName": "UserFirstname",
    "name.familyName": "UserLastname",
    "name.honorificPrefix": "UserTitle",
    "phoneNumbers.work": "UserPhone",
    "phoneNumbers.mobile": "UserMobile",
    "phoneNumbers.fax": "UserFax",
    "addresses.streetAddress": "UserStreet",
    "addresses.postalCode": "UserZip",
    "addresses.locality": "UserCity",
    "addresses.country": "UserCountry",
}
SCIM_PATHS = (
    *DEFAULT_SCIM_MAP,
    "title",
    "nickName",
    "displayName",
    "locale",
    "preferredLanguage",
    "enterprise.organization",
    "enterprise.department",
    "enterprise.division",
    "enterprise.employeeNumber",
    "enterprise.costCenter",
)


class ScimError(HelpdeskError):
    """An answer in SCIM's error schema: `scim_type` as RFC 7644 §3.12 names them."""

    def __init__(self, status: int, detail: str, scim_type: str = "") -> None:
        self.status, self.scim_type, self.detail = status, scim_type, detail
        super().__init__(detail=detail)

    def as_scim(self) -> dict[str, Any]:
        body = {"schemas": [ERROR], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def not_found(kind: str, key: Any) -> ScimError:
    return ScimError(404, _("%(kind)s %(id)s not found") % {"kind": kind, "id": key})


# ------------------------------------------------------------------------------------------- mapping
def scim_map(client: ScimClient, registry: SourceHandler = sources) -> dict[str, str]:
    """SCIM path → Map attribute for the client's source: the defaults the Map has, then `ScimMap`."""
    config = registry.configs[client.source]
    configured = config.raw.get("ScimMap") or {}
    mapped = {path: attr for path, attr in DEFAULT_SCIM_MAP.items() if config.row(attr) is not None}
    for path, attribute in configured.items():
        if attribute:
            mapped[path] = attribute
        else:
            mapped.pop(path, None)
    return mapped


def _get(resource: Mapping[str, Any], path: str) -> Any:
    """A value of the resource by a ScimMap path (`name.givenName`, `phoneNumbers.work` by type,
    `addresses.locality` of the work (or first) address, `enterprise.department`)."""
    head, _, tail = path.partition(".")
    if head == "enterprise":
        return (_key(resource, ENTERPRISE) or {}).get(tail) if tail else None
    value = _key(resource, head)
    if not tail:
        return value
    if head == "phoneNumbers":
        return next(
            (p.get("value") for p in value or [] if isinstance(p, Mapping) and p.get("type") == tail), None
        )
    if head == "addresses":
        items = [a for a in value or [] if isinstance(a, Mapping)]
        item = next((a for a in items if a.get("type") == "work"), items[0] if items else None)
        return item.get(tail) if item else None
    return _key(value, tail) if isinstance(value, Mapping) else None


def _key(resource: Any, name: str) -> Any:
    if not isinstance(resource, Mapping):
        return None
    return next((v for k, v in resource.items() if k.lower() == name.lower()), None)


def _truth(value: Any) -> bool:
    """`active` as providers send it: a JSON boolean, or (Entra) the string "True"/"False"."""
    if isinstance(value, str):
        if value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ScimError(
            400, _("active must be true or false, not %(value)r") % {"value": value}, "invalidValue"
        )
    return bool(value) if value is not None else True


def primary_email(resource: Mapping[str, Any]) -> str:
    emails = [e for e in _key(resource, "emails") or [] if isinstance(e, Mapping) and e.get("value")]
    chosen = next((e for e in emails if _truth(e.get("primary", False))), emails[0] if emails else None)
    return str(chosen["value"]).strip() if chosen else ""


def attributes_of(resource: Mapping[str, Any], mapped: Mapping[str, str]) -> dict[str, Any]:
    """The Map attributes a resource gives (a missing value is empty: PUT replaces)."""
    user_name = _key(resource, "userName")
    if not isinstance(user_name, str) or not user_name.strip():
        raise ScimError(400, _("userName is required"), "invalidValue")
    values: dict[str, Any] = {"UserLogin": user_name.strip(), "UserEmail": primary_email(resource)}
    for path, attribute in mapped.items():
        value = _get(resource, path)
        values[attribute] = "" if value is None else str(value).strip()
    values["ValidID"] = Validity.VALID if _truth(_key(resource, "active")) else Validity.INVALID
    return values


def _scim_field(attribute: str, mapped: Mapping[str, str]) -> str:
    fixed = {"UserLogin": "userName", "UserEmail": "emails", "ValidID": "active"}
    return fixed.get(attribute) or next((p for p, a in mapped.items() if a == attribute), attribute)


def _refused(exc: HelpdeskError, mapped: Mapping[str, str], values: Mapping[str, Any]) -> ScimError:
    """A service's refusal in SCIM's words, each problem named by its SCIM attribute: a taken login or
    address is `uniqueness` (409), anything else `invalidValue` (400)."""
    errors = exc.field_errors or {}
    taken = (
        login_taken_message(str(values.get("UserLogin", ""))),
        email_taken_message(str(values.get("UserEmail", ""))),
    )
    parts = [f"{_scim_field(name, mapped)}: {' '.join(map(str, said))}" for name, said in errors.items()]
    detail = "; ".join(parts) or exc.message
    if any(message in taken for messages in errors.values() for message in messages):
        return ScimError(409, detail, "uniqueness")
    return ScimError(400, detail, "invalidValue")


# --------------------------------------------------------------------------------------------- users
def visible_users(client: ScimClient) -> QuerySet[CustomerUser]:
    """The customer users a client may see: its companies' (primary customer ID, case-blind), but not those
    a SCIM DELETE took away (RFC 7644 §3.6)."""
    return CustomerUser.objects.filter(customer_id__ci_in=client.companies).exclude(
        scim__deleted_at__isnull=False
    )


USER_COLUMNS: scim_filter.Columns = {
    ("username", ""): scim_filter.text_column("login"),
    ("externalid", ""): scim_filter.text_column("scim__external_id", case_exact=True),
    ("name", "givenname"): scim_filter.text_column("first_name"),
    ("name", "familyname"): scim_filter.text_column("last_name"),
    ("emails", ""): scim_filter.text_column("email"),  # the primary address; others are decided in memory
    ("meta", "lastmodified"): scim_filter.date_column("changed_at"),
    ("meta", "created"): scim_filter.date_column("created_at"),
    ("active", ""): lambda op, value: (
        (Q(validity=Validity.VALID) if value else ~Q(validity=Validity.VALID))
        if op == "eq" and isinstance(value, bool)
        else None
    ),
    ("id", ""): lambda op, value: (
        Q(pk=int(value)) if op == "eq" and str(value).isdigit() else (Q(pk__in=[]) if op == "eq" else None)
    ),
}


def _active_q(op: str, value: Any) -> Q | None:
    if op != "eq" or not isinstance(value, bool):
        return None
    return Q(validity=Validity.VALID) if value else ~Q(validity=Validity.VALID)


def version_of(moment) -> str:
    return f'W/"{int(moment.timestamp() * 1_000_000)}"'


def user_resource(
    client: ScimClient, user: CustomerUser, base: str, registry: SourceHandler = sources
) -> dict[str, Any]:
    """The SCIM resource of a customer user: what SCIM sent as it sent it (ScimUser), with every mapped
    value read from the record as the source holds it now (a change in the admin shows here)."""
    mapped = scim_map(client, registry)
    record = registry[client.source].record_of_row(user)  # the row read is the record: no second query
    attributes = dict(record.attributes)
    extra = user.scim if _has_scim(user) else None
    resource: dict[str, Any] = {"schemas": [USER], "id": str(user.pk), "userName": user.login}
    if extra is not None and extra.external_id:
        resource["externalId"] = extra.external_id
    stored = {
        "emails": copy.deepcopy(extra.emails) if extra is not None else [],
        "phoneNumbers": copy.deepcopy(extra.phone_numbers) if extra is not None else [],
        "addresses": copy.deepcopy(extra.addresses) if extra is not None else [],
    }
    if extra is not None and extra.enterprise:
        resource[ENTERPRISE] = copy.deepcopy(extra.enterprise)
    for path, attribute in mapped.items():
        _put(resource, stored, path, attributes.get(attribute))
    email = str(attributes.get("UserEmail") or user.email or "")
    _put_primary_email(stored["emails"], email)
    resource.update({key: items for key, items in stored.items() if items})
    if ENTERPRISE in resource:
        resource["schemas"] = [USER, ENTERPRISE]
    if record.full_name:
        resource["displayName"] = record.full_name
    resource["active"] = user.validity == Validity.VALID
    resource["meta"] = {
        "resourceType": "User", "created": user.created_at.isoformat(),
        "lastModified": user.changed_at.isoformat(), "location": f"{base}/Users/{user.pk}",
        "version": version_of(user.changed_at),
    }  # fmt: skip
    return resource


def _put(resource: dict, stored: dict[str, list], path: str, value: Any) -> None:
    """A mapped value into the resource at its ScimMap path (an empty value takes it out)."""
    value = "" if value is None else value
    head, _, tail = path.partition(".")
    if head == "enterprise":
        if value != "":
            resource.setdefault(ENTERPRISE, {})[tail] = value
        elif ENTERPRISE in resource:
            resource[ENTERPRISE].pop(tail, None)
    elif head == "phoneNumbers":
        items = stored["phoneNumbers"]
        item = next((p for p in items if p.get("type") == tail), None)
        if value != "" and item is None:
            items.append({"value": value, "type": tail})
        elif value != "":
            item["value"] = value
        elif item is not None:
            items.remove(item)
    elif head == "addresses":
        items = stored["addresses"]
        item = next((a for a in items if a.get("type") == "work"), items[0] if items else None)
        if item is None and value != "":
            item = {"type": "work"}
            items.append(item)
        if item is not None:
            if value != "":
                item[tail] = value
            else:
                item.pop(tail, None)
    elif tail:
        if value != "":
            resource.setdefault(head, {})[tail] = value
    elif value != "":
        resource[head] = value


def _put_primary_email(emails: list[dict], email: str) -> None:
    """The record's e-mail address (UserEmail) is the primary one, or the first one SCIM sent."""
    chosen = next((e for e in emails if _truth(e.get("primary", False))), emails[0] if emails else None)
    if chosen is None and email:
        emails.append({"value": email, "type": "work", "primary": True})
    elif chosen is not None and email and fold(str(chosen.get("value", ""))) != fold(email):
        chosen["value"] = email


def _has_scim(user: CustomerUser) -> bool:
    try:
        return user.scim is not None
    except ScimUser.DoesNotExist:
        return False


def find_user(client: ScimClient, user_id: str) -> CustomerUser:
    if not str(user_id).isdigit():
        raise not_found("User", user_id)
    user = visible_users(client).select_related("scim").filter(pk=int(user_id)).first()
    if user is None:
        raise not_found("User", user_id)
    return user


@dataclass(frozen=True)
class Page:
    total: int
    resources: list[dict[str, Any]]
    start: int


def list_users(
    client: ScimClient,
    *,
    filter_text: str,
    start: int,
    count: int,
    sort_by: str,
    descending: bool,
    base: str,
    registry: SourceHandler = sources,
) -> Page:
    users = visible_users(client).select_related("scim")
    return _page(
        users,
        USER_COLUMNS,
        filter_text,
        start,
        count,
        _user_order(sort_by, descending),
        lambda user: user_resource(client, user, base, registry),
    )


def _user_order(sort_by: str, descending: bool) -> list[str]:
    columns = {
        "username": "login",
        "name.familyname": "last_name",
        "name.givenname": "first_name",
        "meta.lastmodified": "changed_at",
        "meta.created": "created_at",
        "emails": "email",
        "emails.value": "email",
        "externalid": "scim__external_id",
        "id": "pk",
    }
    column = columns.get((sort_by or "").lower(), "pk")
    return [f"-{column}" if descending else column, "pk"]


def _page(
    rows: QuerySet,
    columns: scim_filter.Columns,
    filter_text: str,
    start: int,
    count: int,
    order: list[str],
    render,
    distinct: bool = False,
) -> Page:
    start, count = max(start, 1), max(min(count, MAX_COUNT), 0)
    rows = rows.order_by(*order)
    if filter_text:
        try:
            parsed = scim_filter.parse(filter_text)
        except scim_filter.InvalidFilter as exc:
            raise ScimError(400, str(exc), "invalidFilter") from None
        q, exact = parsed.q(columns)
        rows = rows.filter(q)
        if distinct:
            rows = rows.distinct()  # a multi-valued relation (group members) may repeat a row
        if not exact:
            candidates = list(rows[: MEMORY_SCAN + 1])
            if len(candidates) > MEMORY_SCAN:
                raise ScimError(
                    400, _("The filter matches too many resources to decide; narrow it."), "tooMany"
                )
            matching = [resource for resource in map(render, candidates) if parsed.matches(resource)]
            return Page(len(matching), matching[start - 1 : start - 1 + count], start)
    found = list(rows[start - 1 : start - 1 + count]) if count else []
    # The first page, not full, is every match (a userName eq before a create: one query, not two).
    total = len(found) if start == 1 and len(found) < count else rows.count()
    return Page(total, [render(row) for row in found], start)


def create_user(
    client: ScimClient, body: Mapping[str, Any], *, registry: SourceHandler = sources
) -> CustomerUser:
    """POST /Users: a customer user of the client's first company, in its source."""
    _schemas(body, USER)
    mapped = scim_map(client, registry)
    values = {**attributes_of(body, mapped), "UserCustomerID": client.home_company}
    if isinstance(_key(body, "password"), str) and _key(body, "password"):
        values["UserPassword"] = _key(body, "password")  # writeOnly (RFC 7643): hashed, never returned
    external_id = _external_id(body)
    # A taken externalId is refused by its unique constraint (_keep_extras): the request's transaction
    # then takes back the customer user it made (helpdesk.scim.views runs each request in one).
    with history.acting(path="scim", name=f"scim:{client.name}"):
        try:
            record, _password = create_customer_user(
                attributes=values, acting_user=None, source=client.source, registry=registry,
                generate_password=False,
            )  # fmt: skip
        except HelpdeskError as exc:
            gone = CustomerUser.objects.filter(
                login__ci=values["UserLogin"],
                customer_id__ci_in=client.companies,
                scim__deleted_at__isnull=False,
            ).first()
            if gone is not None:  # deleted by SCIM before: provisioned again, the same person
                return replace_user(client, gone, body, registry=registry)
            raise _refused(exc, mapped, values) from None
    user = CustomerUser.objects.get(login__ci=record.login)
    _keep_extras(client, user, body, external_id, new=True)
    return user


def replace_user(
    client: ScimClient,
    user: CustomerUser,
    body: Mapping[str, Any],
    *,
    if_match: str = "",
    registry: SourceHandler = sources,
) -> CustomerUser:
    """PUT /Users/<id>: the whole resource; its company stays the one it has (the client's)."""
    _schemas(body, USER)
    _check_version(user, if_match)
    known = user.scim if _has_scim(user) else None  # read with the user (select_related)
    mapped = scim_map(client, registry)
    values = attributes_of(body, mapped)
    external_id = _external_id(body)
    clash = ScimUser.objects.filter(client=client, external_id=external_id).exclude(customer_user=user)
    unchanged = known is not None and known.client_id == client.pk and known.external_id == external_id
    if external_id and not unchanged and clash.exists():  # an unchanged one is the person's own
        raise ScimError(409, _("externalId %(id)r is taken") % {"id": external_id}, "uniqueness")
    with history.acting(path="scim", name=f"scim:{client.name}"):
        try:
            update_customer_user(login=user.login, changes=values, acting_user=None, registry=registry)
        except HelpdeskError as exc:
            raise _refused(exc, mapped, values) from None
        user.refresh_from_db()
        _keep_extras(client, user, body, external_id, known)
    return user


def patch_user(
    client: ScimClient,
    user: CustomerUser,
    body: Mapping[str, Any],
    *,
    base: str,
    if_match: str = "",
    registry: SourceHandler = sources,
) -> CustomerUser:
    """PATCH /Users/<id>: the operations applied to the resource as read, then written as PUT writes."""
    _check_version(user, if_match)
    resource = user_resource(client, user, base, registry)
    patched = apply_patch(resource, body)
    return replace_user(client, user, patched, registry=registry)


def deactivate_user(client: ScimClient, user: CustomerUser, *, registry: SourceHandler = sources) -> None:
    """DELETE /Users/<id>: customer users are never deleted (R59): the person becomes invalid, and is gone
    for SCIM clients (404 from then on, RFC 7644 §3.6) until one provisions the same userName again."""
    with history.acting(path="scim", name=f"scim:{client.name}"):
        if user.validity == Validity.VALID:
            update_customer_user(
                login=user.login, changes={"ValidID": Validity.INVALID}, acting_user=None, registry=registry
            )
        ScimUser.objects.update_or_create(
            customer_user=user, defaults={"client": client, "deleted_at": timezone.now()}
        )
        history.record("customer_user.scim_deleted", "customer_user", user.login, client=client.name)


def _keep_extras(
    client: ScimClient, user: CustomerUser, body: Mapping[str, Any], external_id: str,
    known: ScimUser | None = None, *, new: bool = False,
) -> None:  # fmt: skip
    """What SCIM holds beside the record; `known`: as read with the user; `new`: a user created just now."""
    emails = [
        {
            "value": str(e.get("value", "")).strip(),
            "type": str(e.get("type") or "work"),
            "primary": _truth(e.get("primary", False)),
        }
        for e in _key(body, "emails") or []
        if isinstance(e, Mapping) and e.get("value")
    ]
    phones = [
        {"value": str(p.get("value", "")).strip(), "type": str(p.get("type") or "work")}
        for p in _key(body, "phoneNumbers") or []
        if isinstance(p, Mapping) and p.get("value")
    ]
    addresses = [dict(a) for a in _key(body, "addresses") or [] if isinstance(a, Mapping)]
    enterprise = _key(body, ENTERPRISE) if isinstance(_key(body, ENTERPRISE), Mapping) else {}
    values = {"client": client, "external_id": external_id, "emails": emails, "phone_numbers": phones,
              "addresses": addresses, "enterprise": dict(enterprise), "deleted_at": None}  # fmt: skip
    unchanged = (
        known is not None
        and known.client_id == client.pk
        and all(getattr(known, name) == value for name, value in values.items() if name != "client")
    )  # the client compared by key: reading it would cost a query
    if unchanged:
        user.scim = known  # what SCIM holds beside the record did not change: nothing to write
        return
    try:
        with transaction.atomic():
            extra = known or (None if new else ScimUser.objects.filter(customer_user=user).first())
            if extra is None:
                extra = ScimUser.objects.create(customer_user=user, **values)
            else:
                for name, value in values.items():
                    setattr(extra, name, value)
                extra.save()
    except IntegrityError:
        raise ScimError(409, _("externalId %(id)r is taken") % {"id": external_id}, "uniqueness") from None
    user.scim = extra  # the resource answered next reads it from here


def _external_id(body: Mapping[str, Any]) -> str:
    value = _key(body, "externalId")
    return str(value).strip() if value not in (None, "") else ""


def _schemas(body: Any, schema: str) -> None:
    if not isinstance(body, Mapping):
        raise ScimError(400, _("The body must be a JSON object."), "invalidSyntax")
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or schema not in schemas:
        raise ScimError(400, _("schemas must include %(schema)s") % {"schema": schema}, "invalidSyntax")


def _check_version(row, if_match: str) -> None:
    moment = row.changed_at if isinstance(row, CustomerUser) else row.modified_at
    if (
        if_match
        and if_match.strip() != "*"
        and version_of(moment) not in [v.strip() for v in if_match.split(",")]
    ):
        raise ScimError(412, _("The resource changed since that version was read."))


# --------------------------------------------------------------------------------------------- PATCH
_VALUE_PATH = re.compile(
    r"^(?P<attr>[^\[\].]+(?::[^\[\]]+)?)(?:\[(?P<filter>.+)\])?(?:\.(?P<sub>[^\[\].]+))?$"
)


def apply_patch(resource: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7644 §3.5.2 on a copy of `resource`: add, replace, remove; paths with value filters
    (`emails[type eq "work"].value`, `members[value eq "…"]`); `op` in any case; a replace of a value path
    that selects nothing adds it (Entra ID); an extension's attributes by their schema URN."""
    _schemas(body, PATCH_OP)
    operations = body.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise ScimError(400, _("Operations must be a non-empty list."), "invalidSyntax")
    patched = copy.deepcopy(dict(resource))
    for number, operation in enumerate(operations):
        if not isinstance(operation, Mapping):
            raise ScimError(400, _("Operations[%(n)s] must be an object.") % {"n": number}, "invalidSyntax")
        op = str(operation.get("op", "")).lower()
        if op not in ("add", "replace", "remove"):
            raise ScimError(
                400,
                _("Operations[%(n)s].op %(op)r is not add, replace or remove")
                % {"n": number, "op": operation.get("op")},
                "invalidSyntax",
            )
        path, value = operation.get("path"), operation.get("value")
        if not path:
            if op == "remove" or not isinstance(value, Mapping):
                raise ScimError(400, _("Operations[%(n)s] needs a path") % {"n": number}, "noTarget")
            for key, item in value.items():
                _apply(patched, op, str(key), item)
            continue
        _apply(patched, op, str(path), value)
    return patched


def _apply(resource: dict[str, Any], op: str, path: str, value: Any) -> None:
    uri = ""
    for schema in (ENTERPRISE, USER, GROUP):
        if path.lower().startswith(schema.lower() + ":"):
            uri, path = schema, path[len(schema) + 1 :]
        elif path.lower() == schema.lower():
            uri, path = schema, ""
    target = resource
    if uri == ENTERPRISE:
        target = resource.setdefault(ENTERPRISE, {})
        if not path:
            if op == "remove":
                resource.pop(ENTERPRISE, None)
            elif isinstance(value, Mapping):
                target.update(value)
            return
    match = _VALUE_PATH.match(path)
    if match is None:
        raise ScimError(400, _("%(path)r is not a SCIM path") % {"path": path}, "invalidPath")
    attr, filter_text, sub = match["attr"], match["filter"], match["sub"]
    if "." in attr and not filter_text:
        attr, sub = attr.split(".", 1)
    key = next((k for k in target if k.lower() == attr.lower()), attr)
    if filter_text:
        _apply_value_path(target, op, key, filter_text, sub, value)
    elif sub:
        parent = target.get(key)
        if not isinstance(parent, dict):
            parent = target[key] = {}
        sub_key = next((k for k in parent if k.lower() == sub.lower()), sub)
        if op == "remove":
            parent.pop(sub_key, None)
        else:
            parent[sub_key] = value
    elif op == "remove":
        if isinstance(target.get(key), list) and isinstance(
            value, list
        ):  # remove these members (Entra, Okta)
            gone = {str(v.get("value")) for v in value if isinstance(v, Mapping)}
            target[key] = [i for i in target[key] if str(i.get("value")) not in gone]
        else:
            target.pop(key, None)
    elif op == "add" and isinstance(target.get(key), list):
        items = value if isinstance(value, list) else [value]
        have = {str(i.get("value")) for i in target[key] if isinstance(i, Mapping)}
        target[key] = target[key] + [
            i for i in items if not (isinstance(i, Mapping) and str(i.get("value")) in have)
        ]
    else:
        target[key] = value


def _apply_value_path(target: dict, op: str, key: str, filter_text: str, sub: str | None, value: Any) -> None:
    try:
        selector = scim_filter.parse(filter_text)
    except scim_filter.InvalidFilter as exc:
        raise ScimError(400, str(exc), "invalidFilter") from None
    items = target.get(key) if isinstance(target.get(key), list) else []
    chosen = [i for i in items if isinstance(i, Mapping) and selector.matches(i)]
    if op == "remove":
        if sub:
            for item in chosen:
                item.pop(next((k for k in item if k.lower() == sub.lower()), sub), None)
        else:
            target[key] = [i for i in items if i not in chosen]
        return
    if not chosen:  # Entra ID: a replace of emails[type eq "work"].value with no such value adds it
        fresh: dict[str, Any] = _equalities(selector.tree)
        items.append(fresh)
        chosen = [fresh]
        target[key] = items
    for item in chosen:
        if sub:
            item[next((k for k in item if k.lower() == sub.lower()), sub)] = value
        elif isinstance(value, Mapping):
            item.update(value)


def _equalities(tree) -> dict[str, Any]:
    """The `attr eq "value"` parts of a value filter: what a new element must hold to match it."""
    from scim2_filter_parser import ast

    found: dict[str, Any] = {}

    def walk(node):
        if (
            isinstance(node, ast.AttrExpr)
            and node.value.lower() == "eq"
            and isinstance(node.attr_path.attr_name, str)
        ):
            found[node.attr_path.attr_name] = scim_filter.comparison_value(node.comp_value)
        for name in getattr(node, "_fields", ()):
            child = getattr(node, name)
            if isinstance(child, ast.AST):
                walk(child)

    walk(tree)
    return found


# -------------------------------------------------------------------------------------------- groups
GROUP_COLUMNS: scim_filter.Columns = {
    ("displayname", ""): scim_filter.text_column("display_name"),
    ("externalid", ""): scim_filter.text_column("external_id", case_exact=True),
    ("meta", "lastmodified"): scim_filter.date_column("modified_at"),
    ("meta", "created"): scim_filter.date_column("created_at"),
    ("id", ""): lambda op, value: (
        Q(pk=int(value)) if op == "eq" and str(value).isdigit() else (Q(pk__in=[]) if op == "eq" else None)
    ),
    ("members", ""): lambda op, value: (
        Q(members__pk=int(value)) if op == "eq" and str(value).isdigit() else None
    ),
}


def group_mapping(client: ScimClient, group: ScimGroup, registry: SourceHandler = sources) -> dict[str, Any]:
    """What `ScimGroups` on the client's source says this group gives: {"Company": …} or {"Group": …,
    "Types": […]}, found by displayName or externalId (case-blind); {} for an unmapped group."""
    return _mapping_of(client, group.display_name, group.external_id, registry)


def _mapping_of(client: ScimClient, display_name: str, external_id: str, registry: SourceHandler) -> dict:
    configured = registry.configs[client.source].raw.get("ScimGroups") or {}
    names = {fold(display_name), fold(external_id)} - {""}
    return next((dict(m) for key, m in configured.items() if fold(str(key)) in names), {})


def group_resource(client: ScimClient, group: ScimGroup, base: str, *, members: bool = True) -> dict:
    resource: dict[str, Any] = {"schemas": [GROUP], "id": str(group.pk), "displayName": group.display_name}
    if group.external_id:
        resource["externalId"] = group.external_id
    if members:
        resource["members"] = [
            {"value": str(user.pk), "$ref": f"{base}/Users/{user.pk}", "type": "User"}
            for user in sorted(group.members.all(), key=lambda u: u.pk)
        ]
    resource["meta"] = {
        "resourceType": "Group",
        "created": group.created_at.isoformat(),
        "lastModified": group.modified_at.isoformat(),
        "location": f"{base}/Groups/{group.pk}",
        "version": version_of(group.modified_at),
    }
    return resource


def find_group(client: ScimClient, group_id: str) -> ScimGroup:
    if not str(group_id).isdigit():
        raise not_found("Group", group_id)
    group = ScimGroup.objects.filter(client=client, pk=int(group_id)).first()
    if group is None:
        raise not_found("Group", group_id)
    return group


def list_groups(
    client: ScimClient,
    *,
    filter_text: str,
    start: int,
    count: int,
    sort_by: str,
    descending: bool,
    base: str,
    members: bool = True,
) -> Page:
    column = {
        "displayname": "display_name",
        "externalid": "external_id",
        "meta.lastmodified": "modified_at",
    }.get((sort_by or "").lower(), "pk")
    order = [f"-{column}" if descending else column, "pk"]
    return _page(
        ScimGroup.objects.filter(client=client).prefetch_related("members"),
        GROUP_COLUMNS,
        filter_text,
        start,
        count,
        order,
        lambda group: group_resource(client, group, base, members=members),
        distinct=True,
    )


def _member_users(client: ScimClient, body: Mapping[str, Any]) -> list[CustomerUser]:
    ids = [str(m.get("value", "")) for m in _key(body, "members") or [] if isinstance(m, Mapping)]
    wanted = [int(i) for i in ids if i.isdigit()]
    found = list(visible_users(client).filter(pk__in=wanted))
    missing = sorted(set(ids) - {str(u.pk) for u in found})
    if missing:  # another company's user does not exist for this client either
        raise ScimError(400, _("members: no user %(ids)s") % {"ids": ", ".join(missing)}, "invalidValue")
    return found


@transaction.atomic
def create_group(
    client: ScimClient, body: Mapping[str, Any], *, registry: SourceHandler = sources
) -> ScimGroup:
    _schemas(body, GROUP)
    name = _key(body, "displayName")
    if not isinstance(name, str) or not name.strip():
        raise ScimError(400, _("displayName is required"), "invalidValue")
    if ScimGroup.objects.filter(client=client, display_name__iexact=name.strip()).exists():
        raise ScimError(409, _("A group %(name)r exists already") % {"name": name}, "uniqueness")
    members = _member_users(client, body)
    group = ScimGroup.objects.create(client=client, display_name=name.strip(), external_id=_external_id(body))
    _set_members(client, group, members, registry)
    return group


@transaction.atomic
def replace_group(
    client: ScimClient,
    group: ScimGroup,
    body: Mapping[str, Any],
    *,
    if_match: str = "",
    registry: SourceHandler = sources,
) -> ScimGroup:
    _schemas(body, GROUP)
    _check_version(group, if_match)
    name = _key(body, "displayName")
    if not isinstance(name, str) or not name.strip():
        raise ScimError(400, _("displayName is required"), "invalidValue")
    if (
        ScimGroup.objects.filter(client=client, display_name__iexact=name.strip())
        .exclude(pk=group.pk)
        .exists()
    ):
        raise ScimError(409, _("A group %(name)r exists already") % {"name": name}, "uniqueness")
    members = _member_users(client, body)  # PUT: the members it lists, no others
    before, old = group_mapping(client, group, registry), set(group.members.all())
    group.display_name, group.external_id = name.strip(), _external_id(body)
    after, new = group_mapping(client, group, registry), set(members)
    if before != after:  # renamed onto another mapping: everything it gave goes, the new one is given
        _revoke(client, group, before, old, registry)
        removed, added = old - new, new
    else:
        removed, added = old - new, new - old
        _revoke(client, group, before, removed, registry)
    group.members.remove(*removed)
    _set_members(client, group, sorted(added, key=lambda u: u.pk), registry)
    return group


def patch_group(
    client: ScimClient,
    group: ScimGroup,
    body: Mapping[str, Any],
    *,
    base: str,
    if_match: str = "",
    registry: SourceHandler = sources,
) -> ScimGroup:
    _check_version(group, if_match)
    patched = apply_patch(group_resource(client, group, base), body)
    return replace_group(client, group, patched, registry=registry)


@transaction.atomic
def delete_group(client: ScimClient, group: ScimGroup, *, registry: SourceHandler = sources) -> None:
    """DELETE /Groups/<id>: what the group gave its members goes with it; the group is deleted (a SCIM group
    is the provider's, not a customer group)."""
    _revoke(client, group, group_mapping(client, group, registry), list(group.members.all()), registry)
    group.delete()


def _set_members(client: ScimClient, group: ScimGroup, members: list[CustomerUser], registry) -> None:
    group.members.add(*members)
    group.save()  # a new version
    mapping = group_mapping(client, group, registry)
    if not members or not mapping:
        return
    logins = [user.login for user in members]
    with history.acting(path="scim", name=f"scim:{client.name}"):
        if mapping.get("Company"):
            add_customer_users_to_customer(
                logins=logins, customer_id=str(mapping["Company"]), acting_user=None
            )
        if mapping.get("Group"):
            grant_group_permissions(
                logins=logins,
                groups=[str(mapping["Group"])],
                permissions=list(mapping.get("Types") or ["ro"]),
                acting_user=None,
            )


def _revoke(
    client: ScimClient,
    group: ScimGroup,
    mapping: Mapping[str, Any],
    members: Iterable[CustomerUser],
    registry,
) -> None:
    """Take back what this group gave `members`, except what another of the client's groups still gives
    them: the other groups of all of them in one query, one service call per thing taken back."""
    members = list(members)
    if not mapping or not members:
        return
    held: dict[int, list[dict]] = defaultdict(list)  # member → what the client's other groups give them
    others = ScimGroup.objects.filter(client=client, members__in=members).exclude(pk=group.pk)
    for member, display_name, external_id in others.values_list("members", "display_name", "external_id"):
        held[member].append(_mapping_of(client, display_name, external_id, registry))
    company, name = str(mapping.get("Company") or ""), str(mapping.get("Group") or "")
    losing_company = [
        u.login
        for u in members
        if not any(fold(str(o.get("Company", ""))) == fold(company) for o in held[u.pk])
    ]
    losing_types: dict[tuple[str, ...], list[str]] = defaultdict(list)  # types taken back → logins
    for user in members:
        kept = {
            t
            for o in held[user.pk]
            if fold(str(o.get("Group", ""))) == fold(name)
            for t in o.get("Types") or ["ro"]
        }
        gone = tuple(t for t in mapping.get("Types") or ["ro"] if t not in kept)
        if gone:
            losing_types[gone].append(user.login)
    with history.acting(path="scim", name=f"scim:{client.name}"):
        if company and losing_company:
            remove_customer_users_from_customer(logins=losing_company, customer_id=company, acting_user=None)
        if name:
            for gone, logins in losing_types.items():
                revoke_group_permissions(
                    logins=logins, groups=[name], permissions=list(gone), acting_user=None
                )


# ----------------------------------------------------------------------------------------- discovery
def service_provider_config(base: str) -> dict[str, Any]:
    """RFC 7643 §5: what this server supports (no /Bulk, no password change, no sort beyond the columns)."""
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/helpdesk/customer-users#scim",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_COUNT},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "Bearer token",
            "description": "One token per SCIM client: manage.py scim_client NAME --source … --company …",
            "primary": True,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"},
    }  # fmt: skip


def resource_types(base: str) -> list[dict[str, Any]]:
    return [
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "User", "name": "User",
         "endpoint": "/Users", "description": "Customer users", "schema": USER,
         "schemaExtensions": [{"schema": ENTERPRISE, "required": False}],
         "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"}},
        {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "Group", "name": "Group",
         "endpoint": "/Groups", "description": "Groups of the identity provider (ScimGroups maps them)",
         "schema": GROUP,
         "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/Group"}},
    ]  # fmt: skip


# What this server keeps of each schema (RFC 7643 §7: a service provider publishes the attributes it
# supports): top-level attribute → the sub-attributes kept (None: all, or it has none).
USER_KEPT = {
    "userName": None, "name": {"givenName", "familyName", "honorificPrefix"},
    "emails": {"value", "type", "primary"}, "phoneNumbers": {"value", "type"},
    "addresses": {"streetAddress", "postalCode", "locality", "country", "type"}, "active": None,
    "displayName": None,  # read-only here: the record's full name (R30), not stored from SCIM
}  # fmt: skip
READ_ONLY = {"displayName"}
GROUP_KEPT = {"displayName": None, "members": {"value", "$ref", "type"}}


def schemas(base: str, client: ScimClient | None = None, registry: SourceHandler = sources) -> list[dict]:
    """The schema documents of RFC 7643 §8.7.1 as scim2-models states them, with the attributes this
    server keeps (those the source's ScimMap maps besides the fixed ones), required where the source's
    Map requires them, and group members referring to users only (no nested groups)."""
    from scim2_models import EnterpriseUser, Group, User

    # active: every customer user is valid or invalid (R59), so it is never unassigned; displayName of a
    # group is REQUIRED by RFC 7643 §4.2.
    kept_user, required = dict(USER_KEPT), {"userName", "active", "displayName"}
    if client is not None:
        config = registry.configs[client.source]
        mapped = scim_map(client, registry)
        for path in mapped:
            head = path.split(".")[0]
            if head not in ("enterprise", *kept_user):
                kept_user[head] = None
        fixed = {"emails": "UserEmail", **mapped}
        for path, attribute in fixed.items():
            row = config.row(attribute)
            if row is not None and row.required:
                required.update({path, path.split(".")[0]})
    found = []
    for model, kept, read_only in (
        (User, kept_user, READ_ONLY),
        (Group, GROUP_KEPT, set()),
        (EnterpriseUser, None, set()),
    ):
        schema = model.to_schema().model_dump(exclude_none=True, mode="json")
        if kept is not None:
            schema["attributes"] = [
                _kept(a, kept, required, read_only) for a in schema.get("attributes", []) if a["name"] in kept
            ]
        schema["meta"] = {"resourceType": "Schema", "location": f"{base}/Schemas/{schema['id']}"}
        found.append(schema)
    return found


def _kept(
    attribute: dict, kept: Mapping[str, set[str] | None], required: set[str], read_only: set[str]
) -> dict:
    name = attribute["name"]
    attribute["required"] = attribute.get("required", False) or name in required
    if name in read_only:
        attribute["mutability"], attribute["required"] = "readOnly", False
    subs = kept[name]
    if subs is not None and attribute.get("subAttributes"):
        attribute["subAttributes"] = [a for a in attribute["subAttributes"] if a["name"] in subs]
        for sub in attribute["subAttributes"]:
            address = name == "emails" and sub["name"] == "value" and "emails" in required
            sub["required"] = f"{name}.{sub['name']}" in required or address
            if name == "members" and sub["name"] == "$ref":
                sub["referenceTypes"] = ["User"]
    return attribute
