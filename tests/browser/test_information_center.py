"""An agent in a real browser: logs in through the admin's form, lands on the Customer Information
Center, finds a company and a customer user with one search box, and opens the company's page."""

import pytest
from django.contrib.auth.models import Group as AuthGroup

from customers.models import Customer, CustomerUser, Group
from staff.roles import AGENTS
from tickets.models import Queue, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_agent_lands_on_the_information_center_and_opens_a_company(
    page, live_server, django_user_model, settings, db_source_settings, screenshot
):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="NORTHWIND", name="Northwind Traders", city="Seattle")
    for n in range(60):  # more than one page of customer users
        CustomerUser.objects.create(login=f"nw{n:02d}", customer_id="NORTHWIND", email=f"nw{n:02d}@example.com",
                                    first_name="Nora", last_name=f"West {n}")  # fmt: skip
    queue = Queue.objects.create(name="Orders", group=Group.objects.create(name="orders"))
    Ticket.objects.create(number="8001", title="Late delivery", queue=queue, customer_id="NORTHWIND",
                          customer_user_login="nw01", state="open")  # fmt: skip
    agent = django_user_model.objects.create_user("agent", password="Agent-Pass-123", is_staff=True)
    agent.groups.add(AuthGroup.objects.get(name=AGENTS))

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "agent")
    page.fill("#id_password", "Agent-Pass-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#cic-search")
    assert page.url.endswith("/admin/information-center/")
    menu = page.inner_text("#nav-sidebar") if page.locator("#nav-sidebar").count() else page.content()
    assert "Sources" not in menu

    page.fill("#cic-search input[name=q]", "northwind")
    page.click("#cic-search input[type=submit]")
    page.wait_for_selector("#found-customers")
    page.click("#found-customers a:text('NORTHWIND')")
    page.wait_for_selector("#customer-users")
    assert "60 customer users" in page.inner_text("#customer-users h2")
    assert page.locator("#customer-users tbody tr").count() == 50
    assert "Late delivery" in page.inner_text("#open-tickets")
    screenshot("14-customer-information-center")
    page.click("#customer-users .paginator a")
    page.wait_for_selector("#customer-users")
    assert page.locator("#customer-users tbody tr").count() == 10
