"""Run-time permission settings: stored in the database, seeded from HELPDESK_SETTINGS."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from permissions.models import PermissionSetting

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
    """All four options in one query."""
    stored = dict(PermissionSetting.objects.filter(key__in=SETTING_KEYS).values_list("key", "value"))
    return {key: stored.get(key, settings.HELPDESK_SETTINGS.get(key)) for key in SETTING_KEYS}


def permission_types() -> list[str]:
    """R100/R14: the configured types; `rw` is always there and always last."""
    types = [t for t in get_permission_setting("CustomerPermissionTypes") or [] if t != "rw"]
    return [*dict.fromkeys(["ro", *types]), "rw"]
