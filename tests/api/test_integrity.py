"""Integrity of keys, cached answers and renames, on every path (API, admin, services).

Each test names what the landed code did instead.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from core.models import HistoryEntry
from customers.models import Customer, CustomerUser, Group
from customers.services import set_customer_user_password
from tickets.models import Queue, Ticket

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("integrity-admin", "ia@example.com", "Admin-pass-1")


@pytest.fixture
def api(staff, settings, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings()}  # CacheTTL as shipped
    client = APIClient()
    client.force_authenticate(staff)
    return client


@pytest.fixture
def world(api):
    Customer.objects.create(customer_id="CC46801DX", name="Upper")
    CustomerUser.objects.create(login="ulla", customer_id="CC46801DX", email="ulla@example.com",
                                first_name="Ulla", last_name="Upper")  # fmt: skip
    support = Group.objects.create(name="support")
    queue = Queue.objects.create(name="Support", group=support)
    Ticket.objects.create(number="5001", title="Upper's ticket", queue=queue, customer_id="CC46801DX",
                          customer_user_login="ulla")  # fmt: skip
    return queue


def test_keys_that_differ_only_in_case_are_one_key(api, world):
    """Measured: `cc46801dx` could be created beside `CC46801DX`, and its users read the other's tickets."""
    refused = api.post(
        "/api/v1/customers/", {"CustomerID": "cc46801dx", "CustomerCompanyName": "Lower"}, format="json"
    )
    assert refused.status_code == 400
    assert "cc46801dx" in refused.json()["message"] or "CC46801DX" in refused.json()["message"]
    assert "CustomerID" in refused.json()["fields"]
    assert Customer.objects.count() == 1
    for kind in ("groups", "services"):
        assert api.post(f"/api/v1/{kind}/", {"name": "Billing"}, format="json").status_code == 201
        clash = api.post(f"/api/v1/{kind}/", {"name": "BILLING"}, format="json")
        assert clash.status_code == 400, clash.content
        assert "'Billing'" in clash.json()["fields"]["name"][0]
    # Looked up case-blind too: one rule everywhere.
    assert api.get("/api/v1/customers/cc46801dx/").json()["CustomerID"] == "CC46801DX"
    assert api.get("/api/v1/groups/SUPPORT/").json()["name"] == "support"
    assert (
        api.put("/api/v1/customers/cc46801dx/groups/", {"SUPPORT": ["ro"]}, format="json").status_code == 200
    )
    assert api.get("/api/v1/customers/CC46801DX/groups/").json() == {"support": ["ro"]}
    assert api.get("/api/v1/customers/NOPE-1/").json()["message"] == "There is no customer 'NOPE-1'."


def test_the_migration_refuses_existing_clashes_and_names_them():
    from importlib import import_module

    migration = import_module("customers.migrations.0007_keys_unique_case_insensitively")
    with connection.schema_editor() as editor:
        editor.remove_constraint(Customer, Customer._meta.constraints[0])
        editor.remove_constraint(Group, Group._meta.constraints[0])
    Customer.objects.bulk_create(
        [Customer(customer_id="ACME", name="a"), Customer(customer_id="acme", name="b")]
    )
    Group.objects.bulk_create([Group(name="Support"), Group(name="support"), Group(name="SUPPORT")])
    with pytest.raises(RuntimeError) as refused:
        migration.refuse_case_clashes(apps, None)
    assert "customer ID: 'ACME', 'acme'" in str(refused.value)
    assert "group name: 'SUPPORT', 'Support', 'support'" in str(refused.value)
    assert "nothing was changed" in str(refused.value)


def test_an_invalid_group_stops_granting_at_once(api, world):
    """Measured: after PATCH ValidID 2 the matrix kept the group until some unrelated write."""
    assert (
        api.put("/api/v1/customer-users/ulla/groups/", {"support": ["rw"]}, format="json").status_code == 200
    )
    rows = {r["group"]: r for r in api.get("/api/v1/customer-users/ulla/permissions/").json()}
    assert rows["support"]["permissions"]["rw"]
    assert api.patch("/api/v1/groups/support/", {"ValidID": 2}, format="json").status_code == 200
    rows = {r["group"] for r in api.get("/api/v1/customer-users/ulla/permissions/").json()}
    assert "support" not in rows
    entry = HistoryEntry.objects.filter(action="group.changed").get()
    assert entry.detail["changes"] == {"validity": [1, 2]}


def test_a_customer_id_rename_follows_everywhere_on_every_path(api, world, staff, client):
    """Measured: PATCH with CustomerID in the body answered 500; the admin's rename left users behind."""
    renamed = api.patch("/api/v1/customers/CC46801DX/", {"CustomerID": "CC-NEW"}, format="json")
    assert renamed.status_code == 200, renamed.content
    assert CustomerUser.objects.get(login="ulla").customer_id == "CC-NEW"
    assert Ticket.objects.get(number="5001").customer_id == "CC-NEW"

    client.force_login(staff)
    customer = Customer.objects.get(customer_id="CC-NEW")
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    form = {"customer_id": "CC-ADMIN", "name": "Upper", "validity": 1, "street": "", "zip": "", "city": "",
            "country": "", "url": "", "comments": ""}  # fmt: skip
    assert client.post(url, form).status_code == 302
    assert CustomerUser.objects.get(login="ulla").customer_id == "CC-ADMIN"
    assert Ticket.objects.get(number="5001").customer_id == "CC-ADMIN"


def test_a_login_rename_keeps_the_customers_tickets(api, world, client):
    """R121. Measured: after a rename the customer no longer saw their own tickets."""
    set_customer_user_password(login="ulla", password="Ulla-pass-1", acting_user=None)
    assert (
        api.patch("/api/v1/customer-users/ulla/", {"UserLogin": "ulla.upper"}, format="json").status_code
        == 200
    )
    assert Ticket.objects.get(number="5001").customer_user_login == "ulla.upper"
    api.put("/api/v1/customer-users/ulla.upper/groups/", {"support": ["ro"]}, format="json")
    client.post(reverse("portal:login"), {"login": "ulla.upper", "password": "Ulla-pass-1"})
    assert client.get(reverse("portal:ticket", args=["5001"])).status_code == 200


def test_the_admin_saves_groups_through_the_service(staff, client, world):
    client.force_login(staff)
    assert (
        client.post(reverse("admin:customers_group_add"), {"name": "SUPPORT", "validity": 1}).status_code
        == 200
    )
    assert Group.objects.count() == 1  # the form says the name is taken
    assert (
        client.post(reverse("admin:customers_group_add"), {"name": "projects", "validity": 1}).status_code
        == 302
    )
    assert HistoryEntry.objects.filter(action="group.created", object_key="projects").exists()


def test_groups_and_services_are_renamed_through_the_service_on_every_path(staff, client, api, world):
    """Found by the stateful schemathesis run: a PATCH (or an admin save) that renames a group answered
    500 (`update_group()` got `name` twice)."""
    renamed = api.patch("/api/v1/groups/support/", {"name": "help"}, format="json")
    assert renamed.status_code == 200, renamed.content
    assert Queue.objects.get(pk=world.pk).group.name == "help"  # the queue follows its group
    api.post("/api/v1/services/", {"name": "VPN"}, format="json")
    assert api.patch("/api/v1/services/vpn/", {"name": "VPN access"}, format="json").status_code == 200
    client.force_login(staff)
    group = Group.objects.get(name="help")
    url = reverse("admin:customers_group_change", args=[group.pk])
    assert client.post(url, {"name": "helpdesk", "validity": 1}).status_code == 302
    assert Group.objects.get(pk=group.pk).name == "helpdesk"
    changes = (
        HistoryEntry.objects.filter(action="group.changed").order_by("pk").values_list("detail", flat=True)
    )
    assert [detail["changes"] for detail in changes] == [
        {"name": ["support", "help"]},
        {"name": ["help", "helpdesk"]},
    ]
