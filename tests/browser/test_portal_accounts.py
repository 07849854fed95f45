"""The panel's account flows in a real Chromium: a lost password reset by the mailed link (through a real
SMTP server), and a two-factor login with a code computed from the secret the setup page shows."""

import os
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pyotp
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OLD, NEW = "Cardamom-2-Old", "Nutmeg-7-Fresh"


@pytest.fixture
def wren(panel_customer_user):
    panel_customer_user("wren", "Wren", "Web", OLD)


def log_in(page, url, password):
    page.goto(url + "/")
    page.fill("#login", "wren")
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_a_forgotten_password_is_reset_by_the_mailed_link(page, live_server, wren, mailbox, screenshot):
    page.goto(live_server.url + "/")
    page.click("text=Forgot your password?")
    page.fill("#login", "wren@example.com")
    screenshot("14-portal-password-reset")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Check your mail")
    [mail] = mailbox.messages
    link = re.search(r"(http://\S+/password-reset/\S+/)", mail.get_content())[1]
    page.goto(link)
    page.fill("#new_password1", NEW)
    page.fill("#new_password2", NEW)
    page.click("button[type=submit]")
    log_in(page, live_server.url, NEW)
    expect(page.locator("#ticket-list")).to_be_visible()
    page.goto(link)
    expect(page.locator("h1")).to_have_text("This link no longer works")


def test_a_two_factor_login(page, live_server, wren, screenshot):
    log_in(page, live_server.url, OLD)
    page.goto(live_server.url + "/preferences/two-factor/")
    uri = unquote(page.locator("a.otpauth").get_attribute("href"))
    totp = pyotp.TOTP(parse_qs(urlsplit(uri).query)["secret"][0])
    expect(page.locator(".qr svg")).to_be_visible()
    screenshot("15-portal-two-factor")
    first = totp.now()
    page.fill("#code", first)
    page.click("section.card button[type=submit]")
    expect(page.locator(".recovery-codes li")).to_have_count(8)
    page.click("button:has-text('Log out')")
    log_in(page, live_server.url, OLD)
    expect(page.locator("h1")).to_have_text("Your code")
    page.fill("#code", totp.at(time.time() + totp.interval))  # the next step: new, and in the window
    page.click("button[type=submit]")
    expect(page.locator("#ticket-list")).to_be_visible()


def test_signing_up_from_an_allowed_address_and_not_from_another(
    page, live_server, wren, settings, mailbox, screenshot
):
    settings.HELPDESK_SETTINGS = {
        **settings.HELPDESK_SETTINGS, "CustomerPanelCreateAccount": 1,
        "CustomerPanelCreateAccountWhitelist": [r"@partner\.example$"],
        "CustomerPanelCreateAccountCustomerID": "ACME",
    }  # fmt: skip
    page.goto(live_server.url + "/")
    page.click("text=Create an account")
    page.fill("#UserFirstname", "Nora")
    page.fill("#UserLastname", "New")
    page.fill("#UserEmail", "nora@elsewhere.example")
    page.click("button[type=submit]")
    expect(page.locator("#UserEmail-error")).to_have_text("This e-mail address cannot sign up here.")
    assert mailbox.messages == []
    page.fill("#UserEmail", "nora@partner.example")
    screenshot("16-portal-signup")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Check your mail")
    [mail] = mailbox.messages
    page.goto(re.search(r"(http://\S+/signup/\S+/)", mail.get_content())[1])
    page.fill("#new_password1", NEW)
    page.fill("#new_password2", NEW)
    page.click("button[type=submit]")
    page.fill("#login", "nora@partner.example")  # without UserLogin on the form, the e-mail is the login
    page.fill("#password", NEW)
    page.click("button[type=submit]")
    expect(page.locator("#ticket-list")).to_be_visible()


def test_the_panel_in_german(browser, live_server, wren):
    """The browser asks for German before the login; then the customer's own preference holds."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    page = context.new_page()
    try:
        page.goto(live_server.url + "/")
        expect(page.locator("h1")).to_have_text("Anmelden")
        log_in(page, live_server.url, OLD)
        expect(page.locator("h1")).to_have_text("Meine Tickets")
        page.click("text=Einstellungen")
        page.select_option("#language", "de")
        page.click("text=Sprache speichern")
        expect(page.locator(".flash")).to_have_text("Ihre Sprache wurde gespeichert.")
        if target := os.environ.get("HELPDESK_SCREENSHOTS"):  # as the screenshot fixture, in this context
            page.screenshot(path=f"{target}/17-portal-german.png", full_page=True)
    finally:
        context.close()


def test_the_panel_by_keyboard_alone(page, live_server, wren):
    page.goto(live_server.url + "/")
    page.focus("a.brand")  # from the top of the page, not from the autofocus: back once, then forward
    page.keyboard.press("Shift+Tab")
    focused = [page.evaluate("document.activeElement.textContent.trim()")]
    for _ in range(6):
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
        )
    assert focused[0] == "Skip to the content"  # then the brand and the form, in reading order
    assert focused.index("login") < focused.index("password") < focused.index("Log in")
    assert "Forgot your password?" in focused
    page.focus("#login")
    page.keyboard.type("wren")
    page.keyboard.press("Tab")
    page.keyboard.type(OLD)
    page.keyboard.press("Enter")
    expect(page.locator("#ticket-list")).to_be_visible()
    outline = page.evaluate(
        "(() => { const a = document.querySelector('nav a'); a.focus();"
        " return getComputedStyle(a).outlineStyle; })()"
    )
    assert outline != "none"  # where the focus is can be seen


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.parametrize("width", [1280, 375])
def test_the_panel_passes_the_accessibility_rules(browser, live_server, wren, settings, width):
    """axe-core (WCAG 2.1 A and AA: labels, contrast, names, landmarks, …) on every page a customer
    sees, on a desktop and on a phone."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs it (npm ci)")
    settings.HELPDESK_SETTINGS = {**settings.HELPDESK_SETTINGS, "CustomerPanelCreateAccount": 1}
    context = browser.new_context(viewport={"width": width, "height": 800}, locale="en-GB")
    page = context.new_page()
    try:
        pages = ["/", "/password-reset/", "/signup/"]
        for path in pages:
            page.goto(live_server.url + path)
            assert_accessible(page, path)
        log_in(page, live_server.url, OLD)
        for path in ["/tickets/?scope=mine", "/tickets/new/", "/preferences/", "/preferences/two-factor/"]:
            page.goto(live_server.url + path)
            assert_accessible(page, path)
    finally:
        context.close()


def assert_accessible(page, path: str) -> None:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})")
    problems = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]
    assert problems == [], f"{path}: {problems}"


def test_signing_up_with_the_readmes_minimal_config(page, live_server, settings, mailbox, tmp_path):
    """Issue 34, point 3: the README's smallest sign-up configuration, as written there, from the form to the
    first login (measured: "There is no customer '<e-mail>'" after the password, and nothing created)."""
    from helpdesk.config import load_helpdesk_config

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"The smallest configuration that signs people\s+up is a file with only\s+```toml\n(.*?)```",
                      readme, re.S)[1]  # fmt: skip
    (tmp_path / "helpdesk.toml").write_text(block, encoding="utf-8")
    config = load_helpdesk_config(str(tmp_path / "helpdesk.toml"))
    settings.CUSTOMER_USER_BACKENDS = config.customer_user_backends
    settings.HELPDESK_SETTINGS = config.settings
    page.goto(live_server.url + "/")
    page.click("text=Create an account")
    page.fill("#UserFirstname", "Sol")
    page.fill("#UserLastname", "Solo")
    page.fill("#UserEmail", "sol@freelance.example")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Check your mail")
    [mail] = mailbox.messages
    page.goto(re.search(r"(http://\S+/signup/\S+/)", mail.get_content())[1])
    page.fill("#new_password1", NEW)
    page.fill("#new_password2", NEW)
    page.click("button[type=submit]")
    page.fill("#login", "sol@freelance.example")
    page.fill("#password", NEW)
    page.click("button[type=submit]")
    expect(page.locator("#ticket-list")).to_be_visible()
