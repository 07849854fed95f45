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
