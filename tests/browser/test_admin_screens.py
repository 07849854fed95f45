"""The admin screens in a real Chromium: the main flow, a validation error, and a read-only LDAP user."""

import re

import pytest
from playwright.sync_api import expect

from customers.models import CustomerUser, CustomerUserGroup, Group

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_manages_a_customer_user_end_to_end(admin_page, screenshot):
    page = admin_page
    for name in ("support", "billing", "projects"):
        Group.objects.create(name=name)
    screenshot("01-index")

    # A customer, through the admin's own add form.
    page.goto(f"{page.base_url}/admin/customers/customer/add/")
    page.fill("#id_customer_id", "NORDLICHT")
    page.fill("#id_name", "Nordlicht Energie GmbH")
    page.fill("#id_city", "Kiel")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    screenshot("02-customers")

    # A customer user with an empty password: one is generated and shown once.
    page.goto(f"{page.base_url}/admin/customer-users/add/")
    page.fill("#id_UserFirstname", "Zoë")
    page.fill("#id_UserLastname", "Schröder")
    page.fill("#id_UserLogin", "zoe.schroeder")
    page.fill("#id_UserEmail", "zoe@nordlicht.example")
    page.fill("#id_UserCustomerID", "NORDLICHT")
    screenshot("03-customer-user-add")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("A password was generated: ")
    assert CustomerUser.objects.get(login="zoe.schroeder").password

    # Found by a wildcard search, as the admin types.
    CustomerUser.objects.create(login="max.mustermann", first_name="Max", last_name="Mustermann",
                                email="max@nordlicht.example", customer_id="NORDLICHT")  # fmt: skip
    page.goto(f"{page.base_url}/admin/customer-users/")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    page.fill("#q", "schr*")
    expect(page).to_have_url(re.compile(r"q=schr"))  # the address follows the search
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text("zoe.schroeder")
    screenshot("04-customer-user-search")

    # Group permissions: the header checkbox sets the whole ro column.
    page.click('#result_list a:text-is("zoe.schroeder")')
    page.click('.object-tools a:text-is("Groups")')
    page.check("input[data-toggle-column='ro']")
    page.check("input[aria-label='projects rw']")
    screenshot("05-group-matrix")
    page.click("input[type=submit][value=Save]")
    expect(page.locator(".messagelist")).to_contain_text("The groups of zoe.schroeder were saved.")
    assert sorted(CustomerUserGroup.objects.values_list("group__name", "permission")) == [
        ("billing", "ro"),
        ("projects", "rw"),
        ("support", "ro"),
    ]  # R101: {ro, rw} is stored as rw, which implies ro

    # The effective permissions, with their reasons.
    page.goto(f"{page.base_url}/admin/customer-users/zoe.schroeder/")
    panel = page.locator("#effective-permissions")
    expect(panel).to_contain_text("Effective permissions")
    cell = panel.locator("tr", has_text="projects").locator("td[data-type=rw]")
    cell.locator("summary").click()
    expect(cell).to_contain_text("direct rw (rw implies every type)")
    screenshot("06-customer-user-edit")

    page.goto(f"{page.base_url}/admin/sources/")
    expect(page.locator("#sources")).to_contain_text("CustomerUser")
    screenshot("07-sources")
    page.goto(f"{page.base_url}/admin/customers/customer/")
    page.click("text=groups")
    screenshot("08-customer-groups")
    page.goto(f"{page.base_url}/admin/default-groups/")
    screenshot("09-default-groups")


def test_a_validation_error_keeps_the_entered_values(admin_page):
    page = admin_page
    page.goto(f"{page.base_url}/admin/customer-users/add/")
    page.fill("#id_UserFirstname", "Łukasz")
    page.fill("#id_UserLastname", "Wójcik")
    page.fill("#id_UserLogin", "lukasz")
    page.fill("#id_UserEmail", "not-an-address")
    page.fill("#id_UserCustomerID", "NOBODY")
    page.click("input[name=_save]")
    expect(page.locator(".errornote")).to_contain_text("Please correct the errors below; nothing was saved.")
    expect(page.locator(".field-UserEmail .errorlist")).to_contain_text(
        "'not-an-address' is not a valid e-mail"
    )
    expect(page.locator(".field-UserCustomerID .errorlist")).to_contain_text("There is no customer 'NOBODY'.")
    expect(page.locator("#id_UserFirstname")).to_have_value("Łukasz")
    expect(page.locator("#id_UserLastname")).to_have_value("Wójcik")
    assert not CustomerUser.objects.filter(login="lukasz").exists()


@pytest.mark.ldap
def test_a_directory_user_is_shown_read_only(admin_page, settings, db_source_settings, ldap_source_settings):
    page = admin_page
    settings.CUSTOMER_USER_BACKENDS = {
        "CustomerUser": db_source_settings(CacheTTL=0),
        "CustomerUser1": ldap_source_settings(),
    }
    page.goto(f"{page.base_url}/admin/customer-users/?q=person000*&source=CustomerUser1")
    expect(page.locator("#result_list")).to_contain_text("CustomerUser1")
    page.goto(f"{page.base_url}/admin/customer-users/person0007/")
    expect(page.locator(".hd-source")).to_contain_text("read-only")
    expect(page.locator("#id_UserLastname")).to_be_disabled()
    expect(page.locator("input[name=_save]")).to_have_count(0)
    expect(page.locator("text=Invalidate")).to_have_count(0)
    expect(page.locator("#id_UserCustomerIDs")).to_have_value(re.compile(r"LDAP-\d\d;LDAP-\d\d"))


def test_the_customer_id_is_picked_from_existing_customers_as_you_type(admin_page):
    """Issue 35: the customer ID was a bare text box; a typo named no customer and was refused on saving."""
    from playwright.sync_api import expect

    from customers.models import Customer

    Customer.objects.create(customer_id="ACME", name="Acme Corporation")
    Customer.objects.create(customer_id="BETA", name="Beta")
    admin_page.goto(admin_page.base_url + "/admin/customer-users/add/")
    admin_page.locator("#id_UserCustomerID").press_sequentially("acm")
    options = admin_page.locator("datalist#choices-0 option")
    expect(options).to_have_count(1)
    assert options.first.get_attribute("value") == "ACME"
    assert options.first.get_attribute("label") == "ACME — Acme Corporation"
    admin_page.goto(admin_page.base_url + "/admin/customers/customer/")
    assert "data-choices" not in admin_page.content()


@pytest.mark.parametrize("width", [1280, 375])
def test_the_changed_admin_screens_pass_the_accessibility_rules(browser, live_server, django_user_model, settings,
                                                                db_source_settings, width):  # fmt: skip
    """Issue 35: axe-core finds nothing serious or critical on the screens this round changed."""
    from customers.models import Customer, CustomerUser, Group
    from tests.browser.test_portal_accounts import AXE

    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="ACME", name="Acme")
    CustomerUser.objects.create(login="anna", customer_id="ACME", email="anna@acme.example", first_name="Anna",
                                last_name="Müller")  # fmt: skip
    Group.objects.create(name="billing")
    django_user_model.objects.create_superuser("root", "root@example.com", "Root-Pass-123")
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB")
    page = context.new_page()
    try:
        page.goto(live_server.url + "/admin/login/")
        page.fill("#id_username", "root")
        page.fill("#id_password", "Root-Pass-123")
        page.click("input[type=submit]")
        page.wait_for_selector("#content-main")
        for path in ["/admin/", "/admin/information-center/?q=acme", "/admin/customer-users/anna/",
                     "/admin/customer-users/anna/groups/", "/admin/sources/", "/admin/customers/loginfailure/",
                     "/admin/core/historyentry/", "/admin/customers/ACME/customer-users/",
                     "/admin/customer-users/?q=anna"]:  # fmt: skip
            page.goto(live_server.url + path)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate(
                "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})"
            )
            serious = [
                f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
                for v in result["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            assert serious == [], f"{path} at {width}px: {serious}"
    finally:
        context.close()
