"""Every route × every role, from the routes themselves (issue 33, point 1): the URL resolver is walked, each
route's declaration read (`helpdesk.access.declaration`), and what each role gets is checked against it —
superuser, Customer administrators, Agents, staff without permissions, anonymous, a logged-in customer.

Measured on the landed code: the role tests listed endpoints and screens by hand and missed 5 endpoints and
4 screens; a view without a declaration was served to every staff user.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.admin import AdminSite, ModelAdmin
from django.contrib.auth.models import Group as AuthGroup
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from core.models import HistoryEntry
from customers.models import Customer, CustomerUser, Group, LoginFailure, Service
from customers.services import set_customer_user_password
from helpdesk.access import ANYONE, CUSTOMER, SCIM_CLIENT, Needs, declaration
from staff.roles import AGENTS, CUSTOMER_ADMINISTRATORS
from tickets.models import Queue, Ticket

pytestmark = [pytest.mark.django_db]
ROLES = ["superuser", "administrator", "agent", "nobody", "anonymous", "customer"]
STAFF = {"superuser", "administrator", "agent", "nobody"}


def _routes(patterns=None, prefix="", namespace=None):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(
                pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace
            )
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), namespace, pattern.name, pattern.callback


ROUTES = list(_routes())
SAMPLES = {"login": "anna", "name": "billing", "attachment_id": "1", "customer_id": "ACME", "number": "7001", "uid": "bm9ib2R5", "token": "not-a-token",
           "app_label": "customers", "url": "no-such-page/", "content_type_id": "1", "object_id": "1",
           "alias": "CustomerUser", "run_id": "1", "user_id": "1", "rest": "Nothing", "kind": "Users"}  # fmt: skip


def _path(route: str, values: dict[str, str]) -> str:
    """The route with each parameter filled in (`<conv:name>` and `(?P<name>…)` alike)."""
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], route)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], path)
    return "/" + path.replace("^", "").replace("$", "")


@pytest.fixture
def world(settings, db_source_settings, django_user_model):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="ACME", name="Acme")
    CustomerUser.objects.create(login="anna", customer_id="ACME", email="anna@example.com", first_name="Anna",
                                last_name="Alt")  # fmt: skip
    set_customer_user_password(login="anna", password="Anna-Tulip-42", acting_user=None)
    billing = Group.objects.create(name="billing")
    Service.objects.create(name="VPN")
    Ticket.objects.create(number="7001", title="Invoice", queue=Queue.objects.create(name="Billing", group=billing),
                          customer_id="ACME", customer_user_login="anna", state="open")  # fmt: skip
    users = {
        "superuser": django_user_model.objects.create_superuser("root", "root@example.com", "Root-Pass-123")
    }
    for name, role in (("administrator", CUSTOMER_ADMINISTRATORS), ("agent", AGENTS), ("nobody", None)):
        users[name] = django_user_model.objects.create_user(name, password="Staff-Pass-123", is_staff=True)
        if role:
            users[name].groups.add(AuthGroup.objects.get(name=role))
    LoginFailure.objects.create(
        login="someone", source="CustomerUser", count=1, last_failed_at="2026-01-01T00:00Z"
    )
    HistoryEntry.objects.create(
        actor_name="root", path="admin", action="test", object_type="x", object_key="y"
    )
    from rest_framework.authtoken.models import Token

    Token.objects.create(user=users["superuser"])
    return {"users": users, "group_id": str(billing.pk)}


def _client(world, role: str, api: bool):
    user = world["users"].get(role)
    if api:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client
    client = Client()
    if user is not None:
        client.force_login(user)
    elif role == "customer":
        assert client.post("/", {"login": "anna", "password": "Anna-Tulip-42"}).status_code == 302
    return client


def _object_id(model_admin: ModelAdmin) -> str:
    obj = model_admin.model._default_manager.order_by("pk").first()
    return str(getattr(obj, "pk", "1"))


def _model_admin_allows(model_admin: ModelAdmin, name: str | None, user, method: str) -> bool | None:
    """What the ModelAdmin itself says of this user for the route kind; None: a plain redirect."""
    from django.test import RequestFactory

    request = RequestFactory().generic(method, "/")
    request.user = user
    kind = (name or "").rsplit("_", 1)[-1]
    if not name:
        return None
    if kind == "add":
        return model_admin.has_add_permission(request)
    if kind == "delete":
        return model_admin.has_delete_permission(request)
    if method == "POST" and kind == "change":
        return model_admin.has_change_permission(request)
    return model_admin.has_view_or_change_permission(request)


def _out_of_the_admin(response) -> bool:
    return _login_redirect(response, "/admin/login/") or (response.status_code, response["Location"]) == (
        302, "/admin/"
    )  # fmt: skip


def _login_redirect(response, login: str) -> bool:
    return response.status_code == 302 and response["Location"].startswith(login)


def test_the_walk_finds_every_surface():
    namespaces = {namespace for _, namespace, _, _ in ROUTES}
    assert {"admin", "portal"} <= namespaces
    assert len([r for r in ROUTES if r[0].startswith("api/v1/")]) >= 25
    assert len(ROUTES) >= 120


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r[0]} ({r[2]})" for r in ROUTES])
def test_every_route_answers_each_role_as_it_declares(world, route):
    pattern, _namespace, name, callback = route
    declared = declaration(callback)
    assert declared is not None, f"{pattern} declares nothing"
    api = pattern.startswith("api/")
    values = {**SAMPLES, "group_id": world["group_id"], "id": str(world["users"]["nobody"].pk)}
    if isinstance(declared, ModelAdmin):
        values["object_id"] = _object_id(declared)
    path = _path(pattern, values)
    for role in ROLES:
        user = world["users"].get(role)
        client = _client(world, role, api)
        response = client.get(path)
        status, where = response.status_code, f"GET {path} as {role}"
        if isinstance(declared, Needs) and api:
            if role in STAFF and declared.allow(user, "GET"):
                assert status not in (401, 403), where
            elif role in STAFF:
                assert status == 403, where
            else:  # the HTML docs send a browser to the login
                assert status in (401, 403) or _login_redirect(response, "/admin/login/"), where
            if (role in STAFF and not declared.allow(user, "POST")) or role not in STAFF:
                posted = client.post(path, {}, format="json")
                assert posted.status_code in (401, 403, 405) or _login_redirect(posted, "/admin/login/"), (
                    f"POST {path} as {role}: {posted.status_code}"
                )
        elif isinstance(declared, Needs | ModelAdmin | AdminSite):  # the admin
            if role not in STAFF:
                if name == "login":
                    assert status == 200, where
                else:  # to the login (the logout page: to the index, which sends to the login)
                    assert _out_of_the_admin(response), where
                    assert _out_of_the_admin(client.post(path, {})), f"POST {path} as {role}"
                continue
            if isinstance(declared, AdminSite):  # the site lets every active staff user in
                assert not _login_redirect(response, "/admin/login/"), where
                continue
            allowed = (
                declared.allow(user, "GET")
                if isinstance(declared, Needs)
                else _model_admin_allows(declared, name, user, "GET")
            )
            if allowed is None:  # `<object_id>/`: a redirect to the change page, which decides
                assert status in (301, 302), where
                continue
            assert (status == 403) is (not allowed), f"{where}: {status}, allowed={allowed}"
            may_post = (
                declared.allow(user, "POST")
                if isinstance(declared, Needs)
                else _model_admin_allows(declared, name, user, "POST")
            )
            if not may_post and (name or "").split("_")[-1] != "changelist":
                assert client.post(path, {}).status_code == 403, f"POST {path} as {role}"
        elif declared == ANYONE:
            assert status != 403, where
            assert not _login_redirect(response, "/admin/login/"), where
        elif declared == CUSTOMER:
            if role == "customer":
                assert status in (200, 404), where
            else:
                assert (status, response.get("Location")) == (302, "/"), where
        elif (
            declared == SCIM_CLIENT
        ):  # a SCIM client's bearer token and nothing else: no session, no API token
            assert status == 401, where
            assert response["Content-Type"] == "application/scim+json", where
            assert client.post(path, {}).status_code == 401, f"POST {path} as {role}"
        else:
            raise AssertionError(f"{pattern}: an unknown declaration {declared!r}")
    assert Customer.objects.get(customer_id="ACME").name == "Acme"
    assert CustomerUser.objects.get(login="anna").validity == 1
