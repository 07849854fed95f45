"""The customer panel in a real Chromium: login, own and company tickets, another company's ticket,
a new ticket in an allowed queue only, a reply, and a directory user's preferences."""

import pytest
from playwright.sync_api import expect

from customers.models import Customer, CustomerUser, CustomerUserGroup, Group
from customers.services import set_customer_user_password
from tests.ldap_server import PASSWORD
from tickets.models import Article, Queue, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(settings, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    settings.HELPDESK_SETTINGS = {**settings.HELPDESK_SETTINGS, "CustomerPermissionTypes": ["ro", "create", "rw"],
                                  "CustomerGroupAlwaysGroups": [], "CustomerGroupCompanyAlwaysGroups": []}  # fmt: skip
    for cid in ("ACME", "OTHER"):
        Customer.objects.create(customer_id=cid, name=cid)
    for login, cid in (("dana", "ACME"), ("colleague", "ACME"), ("stranger", "OTHER")):
        CustomerUser.objects.create(login=login, customer_id=cid, email=f"{login}@example.com", first_name=login.title(),
                                    last_name="Example")  # fmt: skip
    set_customer_user_password(login="dana", password="Dana's pass 1", acting_user=None)
    support, billing = Group.objects.create(name="support"), Group.objects.create(name="billing")
    CustomerUserGroup.objects.create(login="dana", group=support, permission="rw")
    queue = Queue.objects.create(name="Support queue", group=support)
    Queue.objects.create(name="Billing queue", group=billing)
    for number, owner, cid in (
        ("2001", "dana", "ACME"),
        ("2002", "colleague", "ACME"),
        ("2003", "stranger", "OTHER"),
    ):
        ticket = Ticket.objects.create(number=number, title=f"Printer {number}", queue=queue, customer_id=cid,
                                       customer_user_login=owner)  # fmt: skip
        Article.objects.create(ticket=ticket, sender="customer", author=owner, body=f"Text of {number}")


def log_in(page, url, login, password):
    page.goto(url + "/")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_a_customer_uses_the_panel(page, live_server, world, screenshot):
    page.goto(live_server.url + "/")
    expect(page.locator("h1")).to_have_text("Log in")
    screenshot("10-portal-login")
    log_in(page, live_server.url, "dana", "Dana's pass 1")
    expect(page.locator("#ticket-list")).to_contain_text("2001")
    expect(page.locator("#ticket-list")).not_to_contain_text("2002")
    page.click("text=Company tickets")
    expect(page.locator("#ticket-list")).to_contain_text("2002")
    expect(page.locator("#ticket-list")).not_to_contain_text("2003")
    screenshot("11-portal-company-tickets")

    response = page.goto(live_server.url + "/tickets/2003/")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")

    page.click("text=New ticket")
    expect(page.locator("#queue option")).to_have_text(["Support queue"])  # not the billing queue
    page.fill("#title", "Der Drucker brennt")
    page.fill("#body", "Bitte schnell!")
    screenshot("12-portal-new-ticket")
    page.click("button:text('Open ticket')")
    expect(page.locator(".flash")).to_contain_text("was opened")
    expect(page.locator("h1")).to_contain_text("Der Drucker brennt")

    page.goto(live_server.url + "/tickets/2002/")
    page.fill("#body", "Any news from the colleague's ticket?")
    page.click("button:text('Send')")
    expect(page.locator(".flash")).to_contain_text("Your answer was added.")
    expect(page.locator(".article").last).to_contain_text("Any news from the colleague's ticket?")
    screenshot("13-portal-ticket")


@pytest.mark.ldap
def test_a_directory_customer_logs_in_and_has_no_password_form(
    page, live_server, settings, ldap_source_settings
):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser1": ldap_source_settings()}
    log_in(page, live_server.url, "person0004", PASSWORD)
    expect(page.locator("h1")).to_have_text("My tickets")
    page.click("text=Preferences")
    expect(page.locator("#password-managed")).to_contain_text("Your password is managed by Directory")
    expect(page.locator("#password-form")).to_have_count(0)


def test_the_panel_fits_a_phone(browser, live_server, world, screenshot):
    """Measured: at 375 px the ticket table spilled out of its card (684 px wide). Now it stacks."""
    context = browser.new_context(viewport={"width": 375, "height": 740})
    phone = context.new_page()
    try:
        log_in(phone, live_server.url, "dana", "Dana's pass 1")
        phone.click("text=Company tickets")
        expect(phone.locator("#ticket-list")).to_contain_text("2002")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, width
        table = phone.evaluate("document.querySelector('#ticket-list').getBoundingClientRect().right")
        assert table <= 375, table
        expect(phone.locator("#ticket-list td[data-label=State]").first).to_be_visible()
    finally:
        context.close()


@pytest.mark.parametrize("width", [1280, 375])
def test_the_panel_names_people_marks_where_you_are_and_closes_a_ticket(browser, live_server, world, width):
    """Issue 35, the panel: names instead of logins, the current navigation item marked, a ticket closed by its
    customer (keyboard only), the refusal in the panel's own look; axe-core finds nothing serious."""
    from tests.browser.test_portal_accounts import assert_accessible

    context = browser.new_context(viewport={"width": width, "height": 800}, locale="en-GB")
    page = context.new_page()
    try:
        log_in(page, live_server.url, "dana", "Dana's pass 1")
        expect(page.locator("nav a[aria-current=page]")).to_have_text("My tickets")
        expect(page.locator("form.logout button")).to_have_text("Log out Dana Example")
        page.click("text=Company tickets")
        expect(page.locator("nav a[aria-current=page]")).to_have_text("Company tickets")
        page.goto(live_server.url + "/tickets/2001/")
        expect(page.locator("article.article header").first).to_contain_text("Dana Example")
        expect(page.locator(".meta")).to_contain_text("Dana Example (ACME)")
        assert_accessible(page, "/tickets/2001/")
        page.focus("form.close-ticket button")
        page.keyboard.press("Enter")
        expect(page.locator(".flash")).to_have_text("The ticket is closed. An answer opens it again.")
        expect(page.locator(".meta")).to_contain_text("closed")
        expect(page.locator("form.close-ticket")).to_have_count(0)
        refused = page.goto(live_server.url + "/tickets/2003/")
        assert refused.status == 404
        page.goto(live_server.url + "/preferences/two-factor/")
        secret = page.locator("#secret").inner_text()
        assert len(secret.replace(" ", "")) == 32  # base32, typed in by hand where no camera is
        assert_accessible(page, "/preferences/two-factor/")
    finally:
        context.close()
    assert Ticket.objects.get(number="2001").state == "closed"


def test_a_long_ticket_number_wraps_on_a_phone(browser, live_server, world):
    """Issue 35: a long ticket number pushed the page past 375 px."""
    long_number = "2026120712345678901234567890"
    ticket = Ticket.objects.create(number=long_number, title="A long one", queue=Queue.objects.get(name="Support queue"),
                                   customer_id="ACME", customer_user_login="dana")  # fmt: skip
    Article.objects.create(ticket=ticket, sender="customer", author="dana", body="Text")
    context = browser.new_context(viewport={"width": 375, "height": 740})
    phone = context.new_page()
    try:
        log_in(phone, live_server.url, "dana", "Dana's pass 1")
        for path in ("/tickets/?scope=mine", f"/tickets/{long_number}/"):
            phone.goto(live_server.url + path)
            expect(phone.locator("main")).to_contain_text(long_number)
            assert phone.evaluate("document.documentElement.scrollWidth") <= 375, path
    finally:
        context.close()
