"""System checks: every configured source is validated at start-up, naming the source, key and problem."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from backends.config import ALIAS_RE, MAX_SOURCES, SourceConfig, ordered_aliases, validate_source_config

OBJ = "settings.CUSTOMER_USER_BACKENDS"


@register("backends")
def check_customer_user_sources(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    raw = getattr(settings, "CUSTOMER_USER_BACKENDS", None)
    if not isinstance(raw, dict) or not raw:
        return [
            Error(
                "CUSTOMER_USER_BACKENDS must configure at least one source",
                hint="Configure CustomerUser (see README: sources).",
                obj=OBJ,
                id="backends.E003",
            )
        ]
    messages: list[CheckMessage] = []
    for alias in raw:
        if ALIAS_RE.match(alias):
            continue
        if alias.startswith("CustomerUser") and alias.removeprefix("CustomerUser").isdigit():
            messages.append(
                Error(
                    f"CUSTOMER_USER_BACKENDS[{alias!r}]: at most {MAX_SOURCES} sources are supported",
                    hint="Use CustomerUser or CustomerUser1 … CustomerUser10.",
                    obj=OBJ,
                    id="backends.E004",
                )
            )
        else:
            messages.append(
                Warning(
                    f"CUSTOMER_USER_BACKENDS[{alias!r}]: not a source name, ignored",
                    hint="Use CustomerUser or CustomerUser1 … CustomerUser10.",
                    obj=OBJ,
                    id="backends.W001",
                )
            )
    for alias in ordered_aliases(raw):
        problems = validate_source_config(alias, raw[alias])
        messages.extend(
            Error(
                f"CUSTOMER_USER_BACKENDS[{alias!r}]{p.path}: {p.message}",
                hint=p.hint or None,
                obj=OBJ,
                id=p.check_id,
            )
            for p in problems
        )
        if not problems and not SourceConfig.from_settings(alias, raw[alias]).group_support:
            messages.append(group_support_off(alias))
    return messages


def group_support_off(alias: str) -> Warning:
    """R103: a source without group support gives each of its customer users every permission type on
    every valid group — said out loud, since a copied example or a missing key does it silently."""
    return Warning(
        f"CUSTOMER_USER_BACKENDS[{alias!r}]: CustomerGroupSupport is off, so every customer user of this "
        "source holds every permission type on every group (R103)",
        hint=f"Set CustomerGroupSupport = 1 in [{alias}] to grant groups per customer user and customer.",
        obj=OBJ,
        id="backends.W002",
    )
