"""A forgotten password, reset by e-mail through a real SMTP server (aiosmtpd) on loopback."""

import re

import pytest
from django.urls import reverse

from core.models import HistoryEntry

pytestmark = [pytest.mark.django_db]

OLD, NEW = "Juniper-4-Old", "Tamarind-8-New"


@pytest.fixture
def rosa(panel_customer_user):
    panel_customer_user("rosa", "Rosa", "Reset", OLD)


def the_link(mailbox) -> str:
    [mail] = mailbox.messages
    assert mail["To"] == "rosa@example.com"
    return re.search(r"http://testserver(/password-reset/\S+/)", mail.get_content())[1]


def test_the_answer_never_says_whether_the_account_exists(client, rosa, mailbox):
    known = client.post(reverse("portal:password_reset"), {"login": "rosa"})
    unknown = client.post(reverse("portal:password_reset"), {"login": "nobody-here"})
    assert (known.status_code, unknown.status_code) == (200, 200)
    assert known.content == unknown.content
    assert len(mailbox.messages) == 1  # only the account that exists gets a mail


def test_a_link_sets_a_new_password_once(client, rosa, mailbox):
    assert b"Forgot your password?" in client.get(reverse("portal:login")).content
    client.post(reverse("portal:password_reset"), {"login": "ROSA@example.com"})  # the e-mail works too
    link = the_link(mailbox)
    assert client.get(link).status_code == 200
    differ = client.post(link, {"new_password1": NEW, "new_password2": NEW + "x"})
    assert differ.context["errors"] == {"new_password2": ["The two passwords differ."]}
    weak = client.post(link, {"new_password1": "rosa", "new_password2": "rosa"})
    assert weak.status_code == 400
    assert "The password is refused" in weak.context["errors"]["new_password1"][0]
    done = client.post(link, {"new_password1": NEW, "new_password2": NEW})
    assert done.url == reverse("portal:login")
    assert client.post(reverse("portal:login"), {"login": "rosa", "password": OLD}).status_code == 401
    assert client.post(reverse("portal:login"), {"login": "rosa", "password": NEW}).status_code == 302
    client.post(reverse("portal:logout"))
    assert client.get(link).status_code == 400  # used: it works once
    reset = HistoryEntry.objects.get(action="customer_user.password_set")
    assert reset.detail == {"changes": {"UserPassword": ["", "password reset"]}}


def test_an_old_link_no_longer_works(client, rosa, mailbox, settings):
    client.post(reverse("portal:password_reset"), {"login": "rosa"})
    link = the_link(mailbox)
    settings.PASSWORD_RESET_TIMEOUT = -1  # every link is past its time
    assert client.get(link).status_code == 400
    assert client.post(link, {"new_password1": NEW, "new_password2": NEW}).status_code == 400


@pytest.mark.ldap
def test_a_directory_user_is_told_where_to_change_it(client, settings, ldap_source_settings, mailbox):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser1": ldap_source_settings()}
    client.post(reverse("portal:password_reset"), {"login": "person0003"})
    [mail] = mailbox.messages
    assert mail["To"] == "person0003@example.org"
    assert "is kept by Directory, which this helpdesk cannot change" in mail.get_content()
    assert "password-reset/" not in mail.get_content()


def test_a_mail_server_that_refuses_changes_no_answer(client, rosa, mailbox, settings, caplog):
    """Issue 33, point 8: the mail goes after the answer; a refusal is logged, never a 500 that tells a
    known account from an unknown one."""
    from core.mail import wait_until_sent
    from tests.stack import free_port

    settings.EMAIL_PORT = free_port()  # nothing listens there
    known = client.post(reverse("portal:password_reset"), {"login": "rosa"})
    unknown = client.post(reverse("portal:password_reset"), {"login": "nobody-here"})
    wait_until_sent()
    assert (known.status_code, unknown.status_code) == (200, 200)
    assert known.content == unknown.content
    assert "a mail to example.com could not be sent" in caplog.text


def test_a_login_that_is_an_email_address_resets_its_password(client, panel_customer_user, mailbox):
    """Issue 34, point 4: sign-up's default login is the e-mail address; its reset link was always refused."""
    from customers.services import create_customer_user

    panel_customer_user("rosa", "Rosa", "Reset", OLD)  # the source and customer ACME
    create_customer_user(attributes={"UserLogin": "mara@example.com", "UserFirstname": "Mara", "UserLastname": "Mail",
                                     "UserEmail": "mara@example.com", "UserCustomerID": "ACME", "UserPassword": OLD},
                         acting_user=None)  # fmt: skip
    client.post(reverse("portal:password_reset"), {"login": "mara@example.com"})
    [mail] = mailbox.messages
    link = re.search(r"http://testserver(/password-reset/\S+/)", mail.get_content())[1]
    assert client.get(link).status_code == 200
    assert client.post(link, {"new_password1": NEW, "new_password2": NEW}).url == reverse("portal:login")
    assert (
        client.post(reverse("portal:login"), {"login": "mara@example.com", "password": NEW}).status_code
        == 302
    )
