"""What a directory's `CompanyRules` and `GroupRules` give a person (issue 37), read for the preview (the
API's and the admin's) and for the customer user's page. The rules are applied in one place
(backends.ldap.rules); they take effect in R118's companies (customers.selectors.customer_ids_of) and in the
permission matrix (permissions.matrix)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backends.base import CustomerUserRecord
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
    return _shown(alias, login, *derived)


def directory_relations(record: CustomerUserRecord, *, registry: SourceHandler = sources) -> dict[str, Any]:
    """The companies and customer groups `record`'s directory gives it (read-only, apart from the ones set
    by hand), as the preview shows them; empty when its source has no rules."""
    source = registry[record.source]
    if not source.derives_grants:
        return {}
    companies, groups = source.directory_grants(record)
    return _shown(record.source, record.login, companies, groups)


def _shown(alias: str, login: str, companies, groups) -> dict[str, Any]:
    return {
        "source": alias,
        "login": login,
        "companies": [{"customer_id": c.name, "primary": c.primary, "reason": c.reason} for c in companies],
        "groups": [{"group": g.name, "types": list(g.types), "reason": g.reason} for g in groups],
    }
