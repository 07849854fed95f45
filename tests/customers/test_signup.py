"""Sign-up in the customer panel (CustomerPanelCreateAccount), through a real SMTP server on loopback."""

import re

import pytest
from django.urls import reverse

from customers.models import Customer, CustomerUser
from customers.selectors import get_customer_user
from customers.services import create_customer_user

pytestmark = [pytest.mark.django_db]

FORM = {"UserFirstname": "Nela", "UserLastname": "Neu", "UserEmail": "nela@partner.example", "UserLogin": ""}


@pytest.fixture
def open_signup(settings, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    settings.HELPDESK_SETTINGS = {
        **settings.HELPDESK_SETTINGS, "CustomerPanelCreateAccount": 1,
        "CustomerPanelCreateAccountWhitelist": [r"@partner\.example$"],
        "CustomerPanelCreateAccountBlacklist": [r"^spam"], "CustomerPanelCreateAccountCustomerID": "PARTNER",
    }  # fmt: skip
    Customer.objects.create(customer_id="PARTNER", name="Partner")


def link_in(mailbox) -> str:
    [mail] = mailbox.messages
    return re.search(r"http://testserver(/signup/\S+/)", mail.get_content())[1]


def test_signup_is_off_unless_turned_on(client, settings, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    assert client.get(reverse("portal:signup")).status_code == 404
    assert b"Create an account" not in client.get(reverse("portal:login")).content


def test_an_allowed_address_signs_up_and_the_link_works_once(client, open_signup, mailbox):
    page = client.get(reverse("portal:signup"))
    assert [row.attribute for row, *_ in page.context["rows"]][:4] == ["UserTitle", "UserFirstname", "UserLastname",
                                                                        "UserLogin"]  # fmt: skip
    assert client.post(reverse("portal:signup"), FORM).status_code == 200
    assert not CustomerUser.objects.filter(email="nela@partner.example").exists()  # nothing before the link
    link = link_in(mailbox)
    differ = client.post(link, {"new_password1": "Quince-5-Tree", "new_password2": "Quince-5-Treee"})
    assert differ.status_code == 400
    assert client.post(
        link, {"new_password1": "Quince-5-Tree", "new_password2": "Quince-5-Tree"}
    ).url == reverse("portal:login")
    record = get_customer_user("nela@partner.example")  # without a login, the e-mail address is the login
    assert (record.customer_id, record.source) == ("PARTNER", "CustomerUser")
    assert client.post(reverse("portal:login"), {"login": "nela@partner.example",
                                                  "password": "Quince-5-Tree"}).status_code == 302  # fmt: skip
    client.post(reverse("portal:logout"))
    again = client.post(link, {"new_password1": "Other-6-Pass", "new_password2": "Other-6-Pass"})
    assert again.status_code == 400  # used


@pytest.mark.parametrize("email", ["nela@elsewhere.example", "spam@partner.example"])
def test_a_refused_address_gets_a_form_error_no_mail_and_nothing_stored(client, open_signup, mailbox, email):
    answer = client.post(reverse("portal:signup"), {**FORM, "UserEmail": email})
    assert answer.status_code == 400
    assert answer.context["rows"][3][0].attribute == "UserLogin"
    assert ["This e-mail address cannot sign up here."] in [errors for _, _, errors in answer.context["rows"]]
    assert mailbox.messages == []
    assert not CustomerUser.objects.filter(email=email).exists()


def test_an_existing_address_gets_the_same_answer_and_a_mail_that_says_so(client, open_signup, mailbox):
    create_customer_user(attributes={"UserLogin": "nela", "UserFirstname": "Nela", "UserLastname": "Alt",
                                     "UserEmail": "nela@partner.example", "UserCustomerID": "PARTNER"},
                         acting_user=None)  # fmt: skip
    new = client.post(reverse("portal:signup"), {**FORM, "UserEmail": "other@partner.example"})
    existing = client.post(reverse("portal:signup"), FORM)
    assert (new.status_code, existing.status_code) == (200, 200)
    assert new.content == existing.content
    told = mailbox.messages[-1]
    assert told["To"] == "nela@partner.example"
    assert "you have a helpdesk account already (login nela)" in told.get_content()
    assert "/signup/" not in told.get_content()


@pytest.mark.parametrize(
    "email",
    ["nela@ｅvil.test", "nela@ＥＶＩＬ.ＴＥＳＴ", "nela@evil\u200b.test", "nela@EVIL.test", "nela@evil.test",
     "nela@xn--evil-test.test", "ne\u200dla@partner.example"],
)  # fmt: skip
def test_a_refused_domain_is_refused_however_it_is_spelled(client, open_signup, mailbox, settings, email):
    """Issue 33, point 9: addresses are compared as mail compares them (NFKC, IDNA); format characters are
    refused outright."""
    settings.HELPDESK_SETTINGS = {
        **settings.HELPDESK_SETTINGS, "CustomerPanelCreateAccountWhitelist": [],
        "CustomerPanelCreateAccountBlacklist": [r"@evil\.test$", r"@xn--evil-test\.test$"],
    }  # fmt: skip
    answer = client.post(reverse("portal:signup"), {**FORM, "UserEmail": email})
    assert answer.status_code == 400
    assert mailbox.messages == []
    assert not CustomerUser.objects.exists()


def test_a_link_is_spent_once_even_after_its_account_was_anonymised(
    client, open_signup, mailbox, django_user_model
):
    """Issue 33, point 9: anonymising renames the account, which made the link work again; now it is spent."""
    from privacy.services import anonymise_person

    client.post(reverse("portal:signup"), FORM)
    link = link_in(mailbox)
    assert (
        client.post(link, {"new_password1": "Quince-5-Tree", "new_password2": "Quince-5-Tree"}).status_code
        == 302
    )
    staff = django_user_model.objects.create_user("privacy-officer", password="x", is_staff=True)
    anonymise_person("nela@partner.example", acting_user=staff)
    again = client.post(link, {"new_password1": "Other-6-Pass", "new_password2": "Other-6-Pass"})
    assert again.status_code == 400
    assert not CustomerUser.objects.filter(email="nela@partner.example").exists()
    assert client.get(link).status_code == 400


# Issue 34, point 3: sign-up works with its own defaults.
@pytest.fixture
def default_signup(settings, db_source_settings):
    """The README's minimal sign-up: only `CustomerPanelCreateAccount = 1`."""
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    settings.HELPDESK_SETTINGS = {**settings.HELPDESK_SETTINGS, "CustomerPanelCreateAccount": 1}


def _sign_up(client, mailbox, email: str) -> None:
    assert client.post(reverse("portal:signup"), {**FORM, "UserEmail": email}).status_code == 200
    done = client.post(link_in(mailbox), {"new_password1": "Quince-5-Tree", "new_password2": "Quince-5-Tree"})
    assert done.status_code == 302, done.content.decode()
    assert (
        client.post(reverse("portal:login"), {"login": email, "password": "Quince-5-Tree"}).status_code == 302
    )


def test_with_its_defaults_the_address_is_the_customer_and_the_customer_comes_along(
    client, default_signup, mailbox
):
    """Measured: the person confirmed, picked a password and was told "There is no customer '<e-mail>'"."""
    _sign_up(client, mailbox, "solo@freelance.example")
    assert get_customer_user("solo@freelance.example").customer_id == "solo@freelance.example"
    assert Customer.objects.get(customer_id="solo@freelance.example").name == "solo@freelance.example"


def test_a_customer_whose_email_domains_hold_the_address_gets_the_person(
    client, default_signup, mailbox, settings
):
    from customers.services import create_customer

    create_customer(customer_id="ACME", name="Acme", email_domains="acme.example, ACME.de", acting_user=None)
    settings.HELPDESK_SETTINGS = {
        **settings.HELPDESK_SETTINGS,
        "CustomerPanelCreateAccountCustomerID": "PARTNER",
    }
    Customer.objects.create(customer_id="PARTNER", name="Partner")
    _sign_up(client, mailbox, "jo@Acme.DE")  # the domain as mail compares it; before the configured ID
    assert get_customer_user("jo@acme.de").customer_id == "ACME"
    assert Customer.objects.count() == 2


def test_a_configured_customer_id_that_names_no_customer_is_said_at_once(
    client, default_signup, settings, mailbox
):
    from django.core.checks import run_checks

    settings.HELPDESK_SETTINGS = {
        **settings.HELPDESK_SETTINGS,
        "CustomerPanelCreateAccountCustomerID": "GHOST",
    }
    [error] = [m for m in run_checks(databases=["default"]) if m.id == "helpdesk.E002"]
    assert "CustomerPanelCreateAccount::CustomerID = 'GHOST' names no customer" in error.msg
    refused = client.post(reverse("portal:signup"), {**FORM, "UserEmail": "x@partner.example"})
    assert refused.status_code == 400
    assert "Sign-up is not possible at the moment" in refused.content.decode()
    assert mailbox.messages == []
