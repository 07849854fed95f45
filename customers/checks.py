"""System checks that need the database (`manage.py check --database default`, and every `migrate`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.db import DatabaseError

from customers.models import Customer


@register(Tags.database)
def check_signup_customer(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """`CustomerPanelCreateAccount::CustomerID` must name a customer, or every sign-up fails at its end."""
    options = settings.HELPDESK_SETTINGS
    configured = options.get("CustomerPanelCreateAccountCustomerID")
    if not databases or not options.get("CustomerPanelCreateAccount") or not configured:
        return []
    try:
        if Customer.objects.filter(customer_id__ci=configured).exists():
            return []
    except DatabaseError:  # not migrated yet: `migrate` runs the checks again afterwards
        return []
    return [
        Error(
            f"[Settings] CustomerPanelCreateAccount::CustomerID = {configured!r} names no customer, so "
            "sign-ups cannot finish",
            hint="Add that customer (Admin → Customers), or leave the key out: a new account then joins the "
            "customer whose e-mail domains hold its address, else a customer made from the address.",
            obj="HELPDESK_CONFIG",
            id="helpdesk.E002",
        )
    ]


@register(Tags.database)
def check_directory_rules(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """A company or group rule must name a customer or customer group that exists (a `{value}` template is
    checked when it is applied; `CreateMissing = true` makes it on first use): otherwise it grants nothing,
    silently."""
    from backends.ldap.rules import parse_rules
    from backends.registry import sources
    from customers.models import Group

    if not databases:
        return []
    errors: list[CheckMessage] = []
    try:
        for alias, config in sources.configs.items():
            company_rules, group_rules, _problems = parse_rules(config.raw)
            for rule in company_rules:
                if (
                    "{value}" in rule.company
                    or rule.create_missing
                    or Customer.objects.filter(customer_id__ci=rule.company).exists()
                ):
                    continue
                errors.append(_rule_error(alias, rule.path, "Company", rule.company, "customer", "Customers"))
            for rule in group_rules:
                made = "{value}" in rule.group or rule.create_missing
                if made or Group.objects.filter(name__iexact=rule.group).exists():
                    continue
                errors.append(
                    _rule_error(alias, rule.path, "Group", rule.group, "customer group", "Customer groups")
                )
    except DatabaseError:  # not migrated yet: `migrate` runs the checks again afterwards
        return []
    return errors


def _rule_error(alias: str, path: str, key: str, name: str, kind: str, screen: str) -> Error:
    rules, index = path.rstrip("]").split("[")
    return Error(
        f"CUSTOMER_USER_BACKENDS[{alias!r}][{rules!r}][{index}][{key!r}]: {name!r} names no {kind}",
        hint=f"Add that {kind} (Admin → {screen}), or correct the rule.",
        obj="CUSTOMER_USER_BACKENDS",
        id="customers.E003",
    )
