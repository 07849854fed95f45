"""Customer login (R85–R92): legacy hashes (R88) verified and replaced, LDAP binds, lock-out, logging."""

import logging

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.utils import formats, timezone

from customers.authentication import authenticate_customer_user
from customers.models import CustomerUser, CustomerUserPreference, LoginFailure, Validity
from tests.ldap_server import PASSWORD

pytestmark = [pytest.mark.django_db]

# Made with the reference's own tools: Crypt::Eksblowfish::Bcrypt (key_nul, cost 4, salt
# "abcdefghijklmnop"), perl crypt(), `openssl passwd -apr1` / `-1`, and sha*sum.
LEGACY = [
    ("secret", "e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4"),
    ("secret", "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"),
    ("secret", "bd2b1aaf7ef4f09be9f52ce2d8d599674d81aa9d6a4421696dc4d93dd0619d682ce56b4d64a9ef097761ced99e0f67265b5f76085e5b0ee7ca4696b2ad6fe2b2"),
    ("secret", "BCRYPT:4:abcdefghijklmnop:V/MhsBGVkvl.skVEhBTiEdihFBnDQOa"),
    ("Pässwörd 1", "BCRYPT:4:abcdefghijklmnop:J63CODHAqU6AoDAtNZXWe4uqkVGzwdS"),
    ("secret", "jd5whJrqbsvho"),
    ("secret", "$apr1$xyz12345$hVFg3wOytQE97CWCezCu2/"),
    ("secret", "$1$abc$iCQ2D3nhptRYi27fDYv2s1"),
]  # fmt: skip


@pytest.fixture
def local(settings, db_source_settings, customer_user_factory):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    settings.HELPDESK_SETTINGS = {**settings.HELPDESK_SETTINGS, "CustomerLoginMaxFailed": 3,
                                  "CustomerLoginLockMinutes": 15}  # fmt: skip
    return customer_user_factory(login="jdoe", email="jdoe@example.com")


@pytest.mark.sqlite
@pytest.mark.parametrize(("password", "stored"), LEGACY, ids=[s[:12] for _, s in LEGACY])
def test_reference_hashes_verify_once_and_are_replaced(local, password, stored):
    """R88: the stored format decides how to hash; W7: the first good login stores Django's hash."""
    CustomerUser.objects.filter(pk=local.pk).update(password=stored)
    assert not authenticate_customer_user("jdoe", password + "x").ok
    assert CustomerUser.objects.get(pk=local.pk).password == stored  # a failure changes nothing
    outcome = authenticate_customer_user("JDOE", password)
    assert (outcome.ok, outcome.login, outcome.source) == (True, "jdoe", "CustomerUser")
    upgraded = CustomerUser.objects.get(pk=local.pk).password
    assert identify_hasher(upgraded).algorithm == "md5"  # the tests' preferred (fast) Django hasher
    assert authenticate_customer_user("jdoe", password).ok


@pytest.mark.sqlite
def test_whitespace_passwords_round_trip_and_empty_ones_fail(local):
    """R88: any non-empty password a source holds, even a single space, logs in (the password policy,
    customers.passwords, decides what may be set: see test_password_policy.py)."""
    from backends.registry import sources

    for password in (" ", "\t", "\n", "ünïcødé 🔑"):
        sources["CustomerUser"].set_password("jdoe", password)
        assert authenticate_customer_user("jdoe", password).ok
    assert authenticate_customer_user("jdoe", "").reason == "missing"


@pytest.mark.sqlite
def test_invalid_users_cannot_log_in(local):
    """R87."""
    from customers.services import set_customer_user_password

    set_customer_user_password(login="jdoe", password="right one", acting_user=None)
    for validity in (Validity.INVALID, Validity.INVALID_TEMPORARILY):
        CustomerUser.objects.filter(pk=local.pk).update(validity=validity)
        assert authenticate_customer_user("jdoe", "right one").reason == "invalid"


@pytest.mark.sqlite
def test_failed_logins_lock_the_account_for_a_while(local, caplog):
    """R86, beyond OTOBO: counted per login and source, locked at the maximum, every outcome logged."""
    from customers.services import set_customer_user_password

    set_customer_user_password(login="jdoe", password="right one", acting_user=None)
    caplog.set_level(logging.INFO, logger="helpdesk.customer_login")
    assert [authenticate_customer_user("jdoe", "wrong", remote_addr="192.0.2.7").reason for _ in range(3)] == [
        "bad_credentials", "bad_credentials", "locked",
    ]  # fmt: skip
    locked = authenticate_customer_user("jdoe", "right one")
    assert (locked.ok, locked.reason) == (False, "locked")
    until = formats.date_format(timezone.localtime(locked.locked_until), "SHORT_DATETIME_FORMAT")
    assert (
        locked.message == f"Too many failed logins: try again after {until}"
    )  # the lock page says until when
    LoginFailure.objects.update(locked_until=None)  # the lock expired
    ok = authenticate_customer_user("jdoe", "right one")
    assert ok.ok
    assert not LoginFailure.objects.exists()
    prefs = dict(CustomerUserPreference.objects.filter(login="jdoe").values_list("key", "value"))
    assert prefs["UserAuthBackend"] == "CustomerUser"
    assert int(prefs["UserLastLogin"]) > 0
    assert "failed from 192.0.2.7: wrong password for 'jdoe' at CustomerUser" in caplog.text
    assert "'jdoe' accepted by CustomerUser" in caplog.text
    assert "right one" not in caplog.text
    assert "wrong\n" not in caplog.text


@pytest.mark.ldap
def test_directory_users_log_in_by_binding_and_modules_are_tried_in_order(
    settings, db_source_settings, ldap_source_settings, customer_user_factory
):
    """R85, R91: the DB refuses, the directory accepts; the first module that accepts wins."""
    settings.CUSTOMER_USER_BACKENDS = {
        "CustomerUser": db_source_settings(CacheTTL=0),
        "CustomerUser1": ldap_source_settings(),
    }
    ok = authenticate_customer_user("person0004", PASSWORD)
    assert (ok.ok, ok.source) == (True, "CustomerUser1")
    assert authenticate_customer_user("person0004", "bad").reason == "bad_credentials"
    assert LoginFailure.objects.get().source == "CustomerUser1"
    settings.HELPDESK_SETTINGS = {**settings.HELPDESK_SETTINGS, "CustomerAuthModules": ["CustomerUser"]}
    assert authenticate_customer_user("person0004", PASSWORD).reason == "bad_credentials"


@pytest.mark.ldap
def test_a_directory_that_is_down_says_so(settings, ldap_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser1": ldap_source_settings({"Host": "ldap://127.0.0.1:9"})}
    outcome = authenticate_customer_user("person0004", PASSWORD)
    assert outcome.reason == "unavailable"
    assert not LoginFailure.objects.exists()


@pytest.mark.sqlite
def test_login_tokens_work_once(local):
    """R92."""
    from customers.authentication import check_login_token, generate_login_token

    token = generate_login_token("jdoe")
    assert len(token) == 14
    assert not check_login_token("jdoe", "wrong-token-14")
    assert check_login_token("jdoe", token)
    assert not check_login_token("jdoe", token)  # used up
