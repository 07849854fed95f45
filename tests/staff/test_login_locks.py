"""Locks are visible and liftable (issue 33, point 3): a screen for Customer administrators and a command,
each lift a history entry with its actor; the lock's message says until when.

Measured on the landed code: nothing but waiting lifted a lock, and no screen showed one.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group as AuthGroup
from django.core.management import CommandError, call_command
from django.urls import reverse

from core.models import HistoryEntry
from customers.authentication import authenticate_customer_user
from customers.models import LoginFailure
from customers.services import set_customer_user_password
from staff.roles import AGENTS, CUSTOMER_ADMINISTRATORS

pytestmark = [pytest.mark.django_db]
RIGHT = "Right-password-1"


@pytest.fixture
def locked(settings, db_source_settings, customer_user_factory):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    settings.HELPDESK_SETTINGS = {**settings.HELPDESK_SETTINGS, "CustomerLoginMaxFailed": 3,
                                  "CustomerLoginLockMinutes": 15}  # fmt: skip
    customer_user_factory(login="Locked.Out", email="locked@example.com")
    set_customer_user_password(login="Locked.Out", password=RIGHT, acting_user=None)
    for _ in range(3):
        authenticate_customer_user("locked.out", "wrong")
    assert authenticate_customer_user("Locked.Out", RIGHT).reason == "locked"


def _staff(django_user_model, name, role):
    user = django_user_model.objects.create_user(name, password="Staff-Pass-123", is_staff=True)
    user.groups.add(AuthGroup.objects.get(name=role))
    return user


def test_customer_administrators_see_the_lock_and_lift_it(locked, client, django_user_model):
    client.force_login(_staff(django_user_model, "admin1", CUSTOMER_ADMINISTRATORS))
    changelist = reverse("admin:customers_loginfailure_changelist")
    page = client.get(changelist, {"state": "locked"})
    assert page.status_code == 200
    assert "locked.out" in page.content.decode()
    assert "Login locks" in client.get(reverse("admin:index")).content.decode()  # in the menu
    failure = LoginFailure.objects.get(login="locked.out")
    answer = client.post(changelist, {"action": "lift", "_selected_action": [failure.pk]}, follow=True)
    assert "1 lock lifted." in answer.content.decode()
    assert not LoginFailure.objects.exists()
    entry = HistoryEntry.objects.get(action="login.lock_lifted")
    assert (entry.object_key, entry.actor_name, entry.path, entry.detail["scope"]) == (
        "locked.out", "admin1", "admin", "CustomerUser"
    )  # fmt: skip
    assert authenticate_customer_user("Locked.Out", RIGHT).ok


def test_agents_neither_see_nor_lift_locks(locked, client, django_user_model):
    client.force_login(_staff(django_user_model, "agent1", AGENTS))
    changelist = reverse("admin:customers_loginfailure_changelist")
    assert client.get(changelist).status_code == 403
    failure = LoginFailure.objects.get(login="locked.out")
    assert client.post(changelist, {"action": "lift", "_selected_action": [failure.pk]}).status_code == 403
    assert LoginFailure.objects.filter(locked_until__isnull=False).exists()


def test_the_command_lists_and_lifts_locks(locked, capsys):
    call_command("lift_login_lock", "--list")
    assert "locked.out\tCustomerUser\tuntil " in capsys.readouterr().out
    call_command("lift_login_lock", "LOCKED.OUT")  # whatever the spelling
    assert "Lifted 1 lock(s) of 'LOCKED.OUT': CustomerUser" in capsys.readouterr().out
    entry = HistoryEntry.objects.get(action="login.lock_lifted")
    assert (entry.path, entry.actor_name.startswith("command:")) == ("command", True)
    assert authenticate_customer_user("Locked.Out", RIGHT).ok
    with pytest.raises(CommandError, match="No failed logins are counted for 'nobody'"):
        call_command("lift_login_lock", "nobody")


def test_a_staff_address_lock_is_lifted_by_scope(client, django_user_model, settings):
    settings.STAFF_ADDRESS_MAX_FAILED = 2
    for _ in range(3):
        client.get("/api/v1/groups/", HTTP_AUTHORIZATION="Token made-up-token", REMOTE_ADDR="192.0.2.50")
    assert LoginFailure.objects.locked().filter(login="192.0.2.50", source="staff address").exists()
    call_command("lift_login_lock", "192.0.2.50", "--scope", "staff address")
    assert not LoginFailure.objects.filter(login="192.0.2.50").exists()
