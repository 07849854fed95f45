"""The panel's account flows in a real Chromium: a lost password reset by the mailed link (through a real
SMTP server), and a two-factor login with a code computed from the secret the setup page shows."""

import re
import time
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
