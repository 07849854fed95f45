"""What a directory's `CompanyRules` and `GroupRules` give a person (issue 37), read for the preview
endpoint. The rules are applied in one place (backends.ldap.rules); taking effect in R118's companies and in
the permission matrix is the next step of that issue."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backends.errors import CustomerUserNotFound
from backends.registry import SourceHandler, sources
from core.errors import ValidationFailed


class NoDirectoryRules(ValidationFailed):
    code = "source.no_directory_rules"
    template = gettext_lazy("Source {alias} applies no company or group rules: {reason}")


def preview_directory_rules(alias: str, login: str, *, registry: SourceHandler = sources) -> dict[str, Any]:
    """The companies and customer groups `alias`'s rules give `login` now, and why; nothing is written."""
    source = registry[alias]
    if not source.supports_directory_rules:
        raise NoDirectoryRules(alias=alias, reason=_("a %(kind)s source has none") % {"kind": source.kind})
    if not (source.company_rules or source.group_rules):
        raise NoDirectoryRules(alias=alias, reason=_("it configures neither CompanyRules nor GroupRules"))
    derived = source.derive(login)
    if derived is None:
        raise CustomerUserNotFound(login=login)
    companies, groups = derived
    return {
        "source": alias,
        "login": login,
        "companies": [{"customer_id": c.name, "primary": c.primary, "reason": c.reason} for c in companies],
        "groups": [{"group": g.name, "types": list(g.types), "reason": g.reason} for g in groups],
    }
