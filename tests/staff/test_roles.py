"""Staff roles on every path: each API endpoint and each custom admin screen, allowed and refused.

Measured on the landed code: a staff user with no permissions gave `rw` on billing, renamed a customer
user, set a customer's password (204), invalidated a customer user, changed the default groups and used the
whole API; only Django's own change lists refused him.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group as AuthGroup
from django.urls import reverse
from rest_framework.test import APIClient

from customers.models import Customer, CustomerUser, Group, Service
from customers.services import set_customer_user_password
from staff.roles import AGENTS, CUSTOMER_ADMINISTRATORS, ROLES
from tickets.models import Queue, Ticket

pytestmark = [pytest.mark.django_db]

# (method, path, body): every endpoint of the API, reading and writing.
ENDPOINTS = [
    ("get", "/api/v1/customers/", None),
    ("post", "/api/v1/customers/", {"CustomerID": "NEW", "CustomerCompanyName": "New"}),
    ("get", "/api/v1/customers/ACME/", None),
    ("patch", "/api/v1/customers/ACME/", {"CustomerCompanyName": "Acme 2"}),
    ("get", "/api/v1/customers/ACME/groups/", None),
    ("put", "/api/v1/customers/ACME/groups/", {"billing": ["rw"]}),
    ("get", "/api/v1/customer-users/?search=a*", None),
    ("post", "/api/v1/customer-users/", {"UserLogin": "newbie", "UserFirstname": "N", "UserLastname": "B",
                                         "UserEmail": "newbie@example.com", "UserCustomerID": "ACME"}),
    ("get", "/api/v1/customer-users/anna/", None),
    ("patch", "/api/v1/customer-users/anna/", {"UserFirstname": "Hanna"}),
    ("put", "/api/v1/customer-users/anna/", {"UserLogin": "anna", "UserFirstname": "Anna", "UserLastname": "Alt",
                                             "UserEmail": "anna@example.com", "UserCustomerID": "ACME", "ValidID": 1}),
    ("put", "/api/v1/customer-users/anna/password", {"password": "Correct-Horse-7"}),
    ("post", "/api/v1/customer-users/anna/password/generate", None),
    ("get", "/api/v1/customer-users/anna/customers/", None),
    ("put", "/api/v1/customer-users/anna/customers/", ["ACME"]),
    ("get", "/api/v1/customer-users/anna/groups/", None),
    ("put", "/api/v1/customer-users/anna/groups/", {"billing": ["rw"]}),
    ("get", "/api/v1/customer-users/anna/permissions/", None),
    ("get", "/api/v1/customer-users/anna/customer-ids/", None),
    ("get", "/api/v1/customer-users/anna/services/", None),
    ("put", "/api/v1/customer-users/anna/services/", ["VPN"]),
    ("get", "/api/v1/groups/", None),
    ("post", "/api/v1/groups/", {"name": "projects"}),
    ("get", "/api/v1/groups/billing/", None),
    ("patch", "/api/v1/groups/billing/", {"comments": "money"}),
    ("get", "/api/v1/services/", None),
    ("post", "/api/v1/services/", {"name": "Mail"}),
    ("get", "/api/v1/services/VPN/", None),
    ("patch", "/api/v1/services/VPN/", {"comments": "tunnel"}),
    ("get", "/api/v1/settings/default-groups/", None),
    ("put", "/api/v1/settings/default-groups/", {"CustomerGroupAlwaysGroups": ["billing"],
                                                  "CustomerGroupCompanyAlwaysGroups": []}),
    ("get", "/api/v1/settings/default-services/", None),
    ("put", "/api/v1/settings/default-services/", ["VPN"]),
    ("get", "/api/v1/sources/", None),
    ("get", "/api/v1/schema/", None),
]  # fmt: skip
AGENT_MAY = {
    ("get", path)
    for path in (
        "/api/v1/customers/", "/api/v1/customers/ACME/", "/api/v1/customers/ACME/groups/",
        "/api/v1/customer-users/?search=a*", "/api/v1/customer-users/anna/", "/api/v1/customer-users/anna/customers/",
        "/api/v1/customer-users/anna/groups/", "/api/v1/customer-users/anna/permissions/",
        "/api/v1/customer-users/anna/customer-ids/", "/api/v1/customer-users/anna/services/",
        "/api/v1/groups/", "/api/v1/groups/billing/", "/api/v1/services/", "/api/v1/services/VPN/",
        "/api/v1/settings/default-groups/", "/api/v1/settings/default-services/", "/api/v1/schema/",
    )
}  # fmt: skip


@pytest.fixture
def world(settings, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="ACME", name="Acme")
    CustomerUser.objects.create(login="anna", customer_id="ACME", email="anna@example.com", first_name="Anna",
                                last_name="Alt")  # fmt: skip
    set_customer_user_password(login="anna", password="Anna-Tulip-42", acting_user=None)
    billing = Group.objects.create(name="billing")
    Service.objects.create(name="VPN")
    queue = Queue.objects.create(name="Billing", group=billing)
    Ticket.objects.create(number="7001", title="Open invoice", queue=queue, customer_id="ACME",
                          customer_user_login="anna", state="open")  # fmt: skip
    Ticket.objects.create(number="7002", title="Paid invoice", queue=queue, customer_id="ACME",
                          customer_user_login="anna", state="closed")  # fmt: skip


@pytest.fixture
def make_staff(django_user_model):
    def make(name: str, role: str | None = None, **flags):
        user = django_user_model.objects.create_user(name, password="Staff-Pass-123", is_staff=True, **flags)
        if role:
            user.groups.add(AuthGroup.objects.get(name=role))
        return user

    return make


def call(user, method, path, body):
    client = APIClient()
    client.force_authenticate(user)
    return getattr(client, method)(path, body, format="json")


def test_a_staff_user_without_permissions_gets_403_everywhere_in_the_api(world, make_staff):
    nobody = make_staff("nobody")
    for method, path, body in ENDPOINTS:
        response = call(nobody, method, path, body)
        if path == "/api/v1/schema/":  # the API's description is for every staff user, and only for staff
            assert response.status_code == 200
            assert APIClient().get(path).status_code == 401
            continue
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json()["error"] == "forbidden", (method, path)
    assert Customer.objects.get(customer_id="ACME").name == "Acme"
    assert not CustomerUser.objects.filter(login="newbie").exists()


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_agents_read_and_administrators_do_everything(world, make_staff, method, path, body):
    agent, administrator = make_staff("agent", AGENTS), make_staff("administrator", CUSTOMER_ADMINISTRATORS)
    expected = 200 if (method, path) in AGENT_MAY else 403
    assert call(agent, method, path, body).status_code in ((200, 201, 204) if expected == 200 else (403,))
    assert call(administrator, method, path, body).status_code in (200, 201, 204)


def test_a_refusal_names_what_is_missing(world, make_staff):
    refused = call(
        make_staff("agent", AGENTS), "put", "/api/v1/customer-users/anna/groups/", {"billing": ["rw"]}
    )
    assert refused.status_code == 403
    assert "customers.change_group_permissions" in refused.json()["message"]


# (name, args, what an agent gets on GET, on POST): every custom admin screen.
SCREENS = [
    ("information_center", [], 200, None),
    ("information_center_customer", ["ACME"], 200, None),
    ("customer_user_list", [], 200, None),
    ("customer_user_add", [], 403, 403),
    ("customer_user_change", ["anna"], 200, 403),
    ("customer_user_groups", ["anna"], 200, 403),
    ("customer_user_customers", ["anna"], 200, 403),
    ("customer_user_services", ["anna"], 200, 403),
    ("customer_user_invalidate", ["anna"], None, 403),
    ("customer_groups", ["ACME"], 200, 403),
    ("default_groups", [], 200, 403),
    ("default_services", [], 200, 403),
    ("source_status", [], 403, None),
]


def _screen_url(name, args):
    if name == "group_customer_users":
        args = [Group.objects.get(name="billing").pk]
    return reverse(f"admin:{name}", args=args)


def test_every_admin_screen_for_nobody_agents_and_administrators(client, world, make_staff):
    nobody, agent = make_staff("nobody"), make_staff("agent", AGENTS)
    administrator = make_staff("administrator", CUSTOMER_ADMINISTRATORS)
    for name, args, agent_get, agent_post in [*SCREENS, ("group_customer_users", [], 200, 403)]:
        url = _screen_url(name, args)
        for user, get_status, post_status in ((nobody, 403, 403), (agent, agent_get, agent_post)):
            client.force_login(user)
            if get_status is not None and name != "customer_user_invalidate":
                assert client.get(url).status_code == get_status, (user.username, "GET", name)
            if post_status is not None:
                assert client.post(url, {}).status_code == post_status, (user.username, "POST", name)
        client.force_login(administrator)
        if name != "customer_user_invalidate":
            assert client.get(url).status_code == 200, ("administrator", name)
    assert (
        CustomerUser.objects.get(login="anna").validity == 1
    )  # nobody's and the agent's POSTs wrote nothing


def test_the_menu_shows_only_what_the_user_may_open(client, world, make_staff):
    client.force_login(make_staff("nobody"))
    page = client.get(reverse("admin:index")).content.decode()
    assert "Customer Information Center" not in page
    assert "Default groups" not in page
    client.force_login(make_staff("agent", AGENTS))
    landing = client.get(reverse("admin:index"))
    assert landing.url == reverse("admin:information_center")  # agents land on the CIC
    menu = client.get(reverse("admin:information_center")).content.decode()
    assert "Customer Information Center" in menu
    assert "Customer users" in menu
    assert ">Sources<" not in menu
    client.force_login(make_staff("administrator", CUSTOMER_ADMINISTRATORS))
    index = client.get(reverse("admin:index")).content.decode()
    for screen in (
        "Customer Information Center",
        "Customer users",
        "Default groups",
        "Default services",
        "Sources",
    ):
        assert screen in index


def test_the_information_center_shows_a_company_and_finds_both_kinds(client, world, make_staff):
    client.force_login(make_staff("agent", AGENTS))
    found = client.get(reverse("admin:information_center"), {"q": "ac"}).content.decode()
    assert reverse("admin:information_center_customer", args=["ACME"]) in found
    found = client.get(reverse("admin:information_center"), {"q": "ann"}).content.decode()
    assert reverse("admin:customer_user_change", args=["anna"]) in found
    page = client.get(reverse("admin:information_center_customer", args=["acme"]))
    assert page.status_code == 200
    html = page.content.decode()
    for shown in ("anna", "Open invoice", "Paid invoice"):
        assert shown in html
    assert page.context["open_page"].paginator.count == 1
    assert page.context["closed_page"].paginator.count == 1
    assert client.get(reverse("admin:information_center_customer", args=["NOPE"])).status_code == 404


def test_the_shipped_roles_hold_their_permissions_after_migrate():
    for name, codenames in ROLES.items():
        held = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in AuthGroup.objects.get(name=name).permissions.all()
        }
        assert held == set(codenames), name


def test_superusers_keep_everything(world, make_staff):
    root = make_staff("root", is_superuser=True)
    for method, path, body in ENDPOINTS:
        assert call(root, method, path, body).status_code in (200, 201, 204), (method, path)


def test_customers_and_customer_users_link_to_the_information_center(client, world, make_staff):
    client.force_login(make_staff("agent", AGENTS))
    cic = reverse("admin:information_center_customer", args=["ACME"])
    for page in (reverse("admin:tickets_ticket_changelist"), reverse("admin:customer_user_change", args=["anna"]),
                 reverse("admin:customers_customer_changelist")):  # fmt: skip
        assert cic in client.get(page).content.decode(), page


def test_the_group_screen_says_when_group_support_is_off(
    client, world, make_staff, settings, db_source_settings
):
    """R152. Measured: with CustomerGroupSupport off the matrix was still editable."""
    from customers.models import CustomerUserGroup

    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0, CustomerGroupSupport=0)}
    client.force_login(make_staff("administrator", CUSTOMER_ADMINISTRATORS))
    url = reverse("admin:customer_user_groups", args=["anna"])
    page = client.get(url).content.decode()
    assert "Group support is off for source CustomerUser" in page
    assert "<fieldset disabled" in page
    client.post(url, {"rw:billing": "on"})
    assert not CustomerUserGroup.objects.filter(login="anna").exists()
    company = reverse("admin:customer_groups", args=["ACME"])  # no source has group support: the same
    assert "Group support is off for every source" in client.get(company).content.decode()
    client.post(company, {"same-rw:billing": "on"})
    assert not Customer.objects.get(customer_id="ACME").group_permissions.exists()


def test_agents_get_read_only_renderings_without_buttons_that_would_refuse_them(client, world, make_staff):
    """Issue 35: agents saw Save, Invalidate and Anonymise, and got a 403 when they used them."""
    client.force_login(make_staff("agent", AGENTS))
    page = client.get(reverse("admin:customer_user_change", args=["anna"])).content.decode()
    for refused in ('name="_save"', "Invalidate", "Anonymise", "Export data", ">History<"):
        assert refused not in page, refused
    assert "shown read-only" in page
    for name in ("customer_user_groups", "customer_user_customers", "customer_user_services"):
        screen = client.get(reverse(f"admin:{name}", args=["anna"])).content.decode()
        assert 'type="submit" value="Save"' not in screen, name
        assert " disabled" in screen, name
    client.force_login(make_staff("administrator", CUSTOMER_ADMINISTRATORS))
    page = client.get(reverse("admin:customer_user_change", args=["anna"])).content.decode()
    for offered in ('name="_save"', "Invalidate", "Anonymise", "Export data", ">History<"):
        assert offered in page, offered
    assert (
        'type="submit" value="Save"'
        in client.get(reverse("admin:customer_user_groups", args=["anna"])).content.decode()
    )


def test_a_refusal_and_a_missing_page_keep_the_look_of_their_surface(client, world, make_staff):
    """Issue 35: a 403 and a 404 were Django's bare pages."""
    client.force_login(make_staff("agent", AGENTS))
    refused = client.get(reverse("admin:source_status"))
    assert refused.status_code == 403
    page = refused.content.decode()
    assert "Helpdesk customer administration" in page  # the admin's header and menu
    assert "You may not open this page" in page
    missing = client.get(reverse("admin:customer_user_change", args=["nobody-here"]))
    assert missing.status_code == 404
    assert "There is no customer user &#x27;nobody-here&#x27;." in missing.content.decode()
    assert "Helpdesk customer administration" in missing.content.decode()
    client.logout()
    panel = client.get("/no-such-page/")
    assert panel.status_code == 404
    assert 'class="portal"' in panel.content.decode()
    api = client.get("/api/v1/no-such-endpoint/")
    assert (api.status_code, api.json()["error"]) == (404, "not_found")


def test_one_menu_with_one_word_for_each_thing_in_the_order_of_the_daily_work(client, world, make_staff):
    """Issue 35. Measured: "Customer users" and "Groups" each appeared twice, customer and staff groups unnamed
    apart, in alphabetical app order."""
    import re

    client.force_login(make_staff("root", is_superuser=True))
    page = client.get(reverse("admin:index")).content.decode()
    main = page[page.index('id="content-main"') :]
    entries = re.findall(r'<th scope="row"[^>]*>\s*<a href="[^"]+"[^>]*>([^<]+)</a>', main)
    assert entries.count("Customer users") == 1
    assert "Groups" not in entries
    assert entries[:5] == [
        "Customer users",
        "Customers",
        "Customer Information Center",
        "Customer groups",
        "Services",
    ]
    assert entries.index("Sources") < entries.index("Login locks") < entries.index("Staff users")
    assert {"Staff groups (roles)", "API tokens", "Login locks", "History"} <= set(entries)


def test_customer_administrators_see_the_panel_as_a_customer_read_only(client, world, make_staff):
    """Issue 35 (Zammad's "view from user's perspective"): measured, an admin had to know the password."""
    from core.models import HistoryEntry
    from customers.models import CustomerUserGroup

    CustomerUserGroup.objects.create(login="anna", group=Group.objects.get(name="billing"), permission="ro")

    client.force_login(make_staff("agent", AGENTS))
    assert client.post(reverse("admin:customer_user_view_as", args=["anna"])).status_code == 403
    client.force_login(make_staff("administrator", CUSTOMER_ADMINISTRATORS))
    page = client.get(reverse("admin:customer_user_change", args=["anna"])).content.decode()
    assert "See the panel as this customer" in page
    started = client.post(reverse("admin:customer_user_view_as", args=["anna"]))
    assert started.url == reverse("portal:tickets")
    entry = HistoryEntry.objects.get(action="customer_user.panel_viewed")
    assert (entry.object_key, entry.actor_name) == ("anna", "administrator")
    tickets = client.get(reverse("portal:tickets")).content.decode()
    assert "You see the panel as Anna Alt, read-only." in tickets
    assert "7001" in tickets
    assert 'action="/logout/"' not in tickets  # logging out would end the staff user's own session
    refused = client.post(reverse("portal:new_ticket"), {"title": "x", "body": "y"})
    assert refused.status_code == 403
    assert not Ticket.objects.filter(title="x").exists()
    ended = client.post(reverse("portal:view_as_end"))
    assert ended.url == reverse("admin:customer_user_change", args=["anna"])
    assert client.get(reverse("portal:tickets")).url == reverse("portal:login")
