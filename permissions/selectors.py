"""Run-time permission settings: stored in the database, seeded from HELPDESK_SETTINGS."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db.models import TextField, Value
from django.db.models.functions import Cast

from core.generations import PERMISSIONS, remember
from core.validity import Validity
from customers.models import CustomerGroup, CustomerUserGroup, Group
from permissions.cache import CACHE_TTL
from permissions.models import PermissionSetting

SAME, OTHER = CustomerGroup.SAME, CustomerGroup.OTHER  # the two contexts of a customer's groups (R106)

SETTING_KEYS = (
    "CustomerGroupAlwaysGroups",
    "CustomerGroupCompanyAlwaysGroups",
    "CustomerPermissionTypes",
    "CustomerDisableCompanyTicketAccess",
)


def get_permission_setting(key: str) -> Any:
    """The admin's value if one was stored, else the configured seed (HELPDESK_SETTINGS)."""
    if key not in SETTING_KEYS:
        raise KeyError(key)
    stored = PermissionSetting.objects.filter(key=key).values_list("value", flat=True).first()
    if stored is not None:
        return stored
    return settings.HELPDESK_SETTINGS.get(key)


def get_permission_settings() -> dict[str, Any]:
    """All four options, read in one query and cached until the next permission write (R108)."""
    return get_permission_basics()[0]


def get_permission_basics() -> tuple[dict[str, Any], dict[str, int]]:
    """The four options and the valid groups (name → id) every matrix starts from, read under one look-up of
    the generation and cached until the next permission write (every group write bumps it, R108)."""

    def read() -> tuple[dict[str, Any], dict[str, int]]:
        as_text = {"text": Cast("value", TextField())}
        stored = PermissionSetting.objects.filter(key__in=SETTING_KEYS).annotate(
            kind=Value("setting"), **as_text
        )
        valid = Group.objects.filter(validity=Validity.VALID)
        valid = valid.annotate(kind=Value("group"), text=Cast("id", TextField()))
        options: dict[str, Any] = {}
        groups: dict[str, int] = {}
        both = (
            stored.order_by()
            .values_list("kind", "key", "text")
            .union(valid.order_by().values_list("kind", "name", "text"), all=True)
        )  # one query (no ORDER BY inside: SQLite refuses it in a compound statement)
        for kind, name, text in both:
            if kind == "setting":
                options[name] = json.loads(text)
            else:
                groups[name] = int(text)
        return {k: options.get(k, settings.HELPDESK_SETTINGS.get(k)) for k in SETTING_KEYS}, groups

    return remember([PERMISSIONS], "permissions:basics", read, CACHE_TTL)


def permission_types(options: dict[str, Any] | None = None) -> list[str]:
    """R100/R14: the configured types; `rw` is always there and always last.

    `options` is the result of get_permission_settings() when the caller already has it.
    """
    if options is None:
        configured = get_permission_setting("CustomerPermissionTypes")
    else:
        configured = options.get("CustomerPermissionTypes")
    types = [t for t in configured or [] if t != "rw"]
    return [*dict.fromkeys(["ro", *types]), "rw"]


def stored_group_permissions(
    *, login: str | None = None, customer_id: str | None = None, context: str | None = None
) -> dict[str, list[str]]:
    """The links as stored (not the effective matrix): `{group: [types]}` of one customer user, or of one
    customer in one context (default Same)."""
    if login is not None:
        rows = CustomerUserGroup.objects.filter(login=login)
    else:
        rows = CustomerGroup.objects.filter(customer_id=customer_id, context=context or CustomerGroup.SAME)
    held: dict[str, list[str]] = {}
    for group, permission in rows.order_by("group__name", "permission").values_list(
        "group__name", "permission"
    ):
        held.setdefault(group, []).append(permission)
    return held


def group_member_permissions(group_id: int) -> dict[str, set[str]]:
    """Who holds what in one group as stored: `{login: {types}}`, logins in the order they were linked."""
    held: dict[str, set[str]] = {}
    for login, permission in (
        CustomerUserGroup.objects.filter(group_id=group_id).order_by("pk").values_list("login", "permission")
    ):
        held.setdefault(login, set()).add(permission)
    return held


def customer_group_links(customer_id: str) -> list[tuple[str, str, str]]:
    """A customer's group links as stored, both contexts: (context, group, type)."""
    return list(
        CustomerGroup.objects.filter(customer_id=customer_id).values_list(
            "context", "group__name", "permission"
        )
    )
