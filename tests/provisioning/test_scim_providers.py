"""Provisioning as Microsoft Entra ID and Okta do it, replayed request by request (shapes from their SCIM
documentation): the records, memberships, permissions and history that result, and a deprovisioned person's
panel session ended on the next request."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client

from core.models import HistoryEntry
from customers.models import Customer, CustomerUser, Group
from customers.selectors import session_version
from helpdesk.portal.views import SESSION_KEY, SESSION_VERSION_KEY
from permissions.matrix import get_permission_matrix
from provisioning.clients import create_scim_client
from tests.provisioning.test_scim import ENTERPRISE, GROUP, PATCH, USER, Scim

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def scim(settings, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(
        CacheTTL=0, CustomerGroupSupport=1, ScimGroups={"Billing Readers": {"Group": "billing", "Types": ["ro"]}},
        ScimMap={"enterprise.department": "UserComment"})}  # fmt: skip
    Customer.objects.create(customer_id="CONTOSO", name="Contoso")
    Group.objects.create(name="billing")
    _client, token = create_scim_client(name="contoso-entra", source="CustomerUser", companies=["CONTOSO"])
    return Scim(token)


def panel_session(login: str) -> Client:
    browser = Client()
    session = browser.session
    session[SESSION_KEY], session[SESSION_VERSION_KEY] = login, session_version(login)
    session.save()
    return browser


def test_entra_id_provisions_updates_groups_and_deprovisions(scim):
    user_name = "adele.vance@contoso.example"
    assert scim("GET", f'Users?filter=userName eq "{user_name}"').json()["totalResults"] == 0
    created = scim("POST", "Users", {
        "schemas": [USER, ENTERPRISE], "externalId": "0a21f0f2-8d2a-4f8e-bf98-7d2ffa1d3d4d",
        "userName": user_name, "active": True, "displayName": "Adele Vance",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"}, "name": {"formatted": "Adele Vance", "familyName": "Vance", "givenName": "Adele"},
        "roles": [], ENTERPRISE: {"department": "Retail"},
    })  # fmt: skip
    assert created.status_code == 201, created.content
    user_id = created.json()["id"]
    assert (
        scim("GET", 'Users?filter=externalId eq "0a21f0f2-8d2a-4f8e-bf98-7d2ffa1d3d4d"').json()[
            "totalResults"
        ]
        == 1
    )
    changed = scim("PATCH", f"Users/{user_id}", {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "adele@contoso.example"},
        {"op": "Replace", "path": "name.familyName", "value": "Vance-Smith"},
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Finance"},
    ]})  # fmt: skip
    assert changed.status_code == 200, changed.content
    assert (
        scim("GET", 'Groups?excludedAttributes=members&filter=displayName eq "Billing Readers"').json()[
            "totalResults"
        ]
        == 0
    )
    group = scim("POST", "Groups", {"schemas": [GROUP], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                                    "displayName": "Billing Readers", "members": []}).json()  # fmt: skip
    added = scim("PATCH", f"Groups/{group['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "Add", "path": "members", "value": [{"value": user_id}]}]})  # fmt: skip
    assert added.status_code == 200, added.content
    browser = panel_session(user_name)

    stored = CustomerUser.objects.get(pk=user_id)
    assert (stored.login, stored.email, stored.last_name, stored.comments, stored.customer_id) == (
        user_name,
        "adele@contoso.example",
        "Vance-Smith",
        "Finance",
        "CONTOSO",
    )
    assert get_permission_matrix(user_name).allows("billing", "ro")
    assert browser.get("/tickets/").status_code == 200

    removed = scim("PATCH", f"Groups/{group['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "Remove", "path": "members", "value": [{"value": user_id}]}]})  # fmt: skip
    assert removed.status_code == 200, removed.content
    assert not get_permission_matrix(user_name).allows("billing", "ro")
    disabled = scim("PATCH", f"Users/{user_id}", {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "active", "value": "False"}]})  # fmt: skip
    assert (disabled.status_code, disabled.json()["active"]) == (200, False)
    refused = browser.get("/tickets/")
    assert (refused.status_code, refused["Location"]) == (302, "/")  # the session ended on the next request
    assert scim("DELETE", f"Users/{user_id}").status_code == 204
    assert CustomerUser.objects.get(pk=user_id).validity == 2  # never deleted
    history = list(
        HistoryEntry.objects.filter(object_key=user_name).order_by("pk").values_list("action", "actor_name")
    )
    assert ("customer_user.created", "scim:contoso-entra") in history
    assert ("group_permission.granted", "scim:contoso-entra") in history
    assert ("group_permission.revoked", "scim:contoso-entra") in history


def test_okta_provisions_with_put_and_deactivates_with_patch(scim):
    user_name = "isaac.brooks@contoso.example"
    found = scim("GET", f'Users?filter=userName eq "{user_name}"&startIndex=1&count=100')
    assert (found.status_code, found.json()["totalResults"]) == (200, 0)
    created = scim("POST", "Users", {
        "schemas": [USER], "userName": user_name, "name": {"givenName": "Isaac", "familyName": "Brooks"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}], "displayName": "Isaac Brooks",
        "locale": "en-US", "externalId": "00u1esetcaXyLxS3n0g4", "groups": [], "password": "1mz050nq", "active": True,
    })  # fmt: skip
    assert created.status_code == 201, created.content
    resource = scim("GET", f"Users/{created.json()['id']}").json()
    resource["name"]["familyName"] = "Brooks-Lee"
    put = scim("PUT", f"Users/{resource['id']}", resource)
    assert put.status_code == 200, put.content
    group = scim("POST", "Groups", {"schemas": [GROUP], "displayName": "Billing Readers",
                                    "members": [{"value": resource["id"], "display": user_name}]}).json()  # fmt: skip
    assert get_permission_matrix(user_name).allows("billing", "ro")
    removed = scim("PATCH", f"Groups/{group['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "remove", "path": f'members[value eq "{resource["id"]}"]'}]})  # fmt: skip
    assert (removed.status_code, removed.json().get("members", [])) == (
        200,
        [],
    )
    assert not get_permission_matrix(user_name).allows("billing", "ro")
    deactivated = scim("PATCH", f"Users/{resource['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "value": {"active": False}}]})  # fmt: skip
    reactivated = scim("PATCH", f"Users/{resource['id']}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "value": {"active": True}}]})  # fmt: skip

    assert (deactivated.json()["active"], reactivated.json()["active"]) == (False, True)
    stored = CustomerUser.objects.get(pk=resource["id"])
    assert (stored.last_name, stored.validity, stored.customer_id) == ("Brooks-Lee", 1, "CONTOSO")
    assert stored.password == "" or not stored.password.endswith(
        "1mz050nq"
    )  # a SCIM password is never stored clear
    assert check_password("1mz050nq", stored.password)  # the one Okta sent is the person's password
