"""Fail closed (issue 33, point 1): every API route declares what it needs, found by walking the URL
resolver rather than a hand list; a view that declares nothing is refused to everyone, superusers included;
history and personal-data exports need permissions agents do not hold, and every export is a history entry."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group as AuthGroup
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from core.models import HistoryEntry
from customers.models import Customer, CustomerUser
from helpdesk.access import Needs, StaffPermission
from staff.roles import AGENTS, CUSTOMER_ADMINISTRATORS

pytestmark = [pytest.mark.django_db]


def _routes(patterns=None, prefix=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def _view_class(callback):
    while not hasattr(callback, "cls") and hasattr(callback, "__wrapped__"):
        callback = callback.__wrapped__
    return getattr(callback, "cls", None)


API_ROUTES = [(route, _view_class(callback)) for route, callback in _routes() if route.startswith("api/v1/")]


def test_the_resolver_finds_the_api():
    assert len(API_ROUTES) >= 25  # 26 today: a broken walk would find none


@pytest.mark.parametrize(("route", "view"), API_ROUTES, ids=[route for route, _ in API_ROUTES])
def test_every_api_route_declares_what_it_needs(route, view):
    assert view is not None, f"{route} is not an API view"
    assert isinstance(getattr(view, "needs", None), Needs), f"{route} ({view.__name__}) declares no `needs`"


def test_a_view_that_declares_nothing_is_refused_even_to_a_superuser(django_user_model):
    class Undeclared(APIView):
        pass

    request = APIRequestFactory().get("/")
    request.user = django_user_model.objects.create_superuser("root", "root@example.com", "Root-Pass-1")
    assert StaffPermission().has_permission(request, Undeclared()) is False


@pytest.fixture
def anna(settings, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="ACME", name="Acme")
    CustomerUser.objects.create(login="anna", customer_id="ACME", email="anna@example.com", first_name="Anna",
                                last_name="Alt")  # fmt: skip


def _as(django_user_model, name, role):
    user = django_user_model.objects.create_user(name, password="Staff-Pass-123", is_staff=True)
    user.groups.add(AuthGroup.objects.get(name=role))
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    "path", ["/api/v1/customer-users/anna/history/", "/api/v1/customers/ACME/history/",
             "/api/v1/customer-users/anna/export/", "/api/v1/audit/"],
)  # fmt: skip
def test_history_and_exports_are_for_those_who_may_read_them(anna, django_user_model, path):
    agent = _as(django_user_model, "agent", AGENTS)
    administrator = _as(django_user_model, "administrator", CUSTOMER_ADMINISTRATORS)
    assert agent.get(path).status_code == 403
    assert administrator.get(path).status_code == 200


def test_every_export_is_a_history_entry_with_its_actor(anna, django_user_model):
    administrator = _as(django_user_model, "administrator", CUSTOMER_ADMINISTRATORS)
    assert administrator.get("/api/v1/customer-users/anna/export/").status_code == 200
    entry = HistoryEntry.objects.get(action="customer_user.exported")
    assert (entry.object_key, entry.actor_name) == ("anna", "administrator")


@pytest.mark.urls("tests.staff.undeclared_urls")
def test_a_page_that_declares_nothing_is_refused_to_everyone(client, django_user_model):
    assert client.get("/undeclared/").status_code == 403
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "Root-Pass-1"))
    assert client.get("/undeclared/").status_code == 403
    assert client.get("/admin/").status_code == 200  # the declared ones are served
