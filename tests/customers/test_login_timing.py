"""No account oracle in the login's time (issue 33, point 8): every refused login costs exactly one slow
hash, whoever the login belongs to.

Measured on the landed code: a wrong password for a directory user answered in 14 ms (the server's bind),
for a database user in 270 ms (a PBKDF2 check), for an unknown login in 367 ms; a database user without a
password answered at once.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from customers.authentication import authenticate_customer_user
from customers.models import CustomerUser
from customers.services import set_customer_user_password
from tests.ldap_server import PASSWORD

SLOW_HASHES: list[str] = []


class CountingHasher(PBKDF2PasswordHasher):
    """Django's default hasher, counting its slow step (checking a password runs it too)."""

    algorithm = "counting_pbkdf2"
    iterations = 1000

    def encode(self, password, salt, iterations=None):
        SLOW_HASHES.append(password)
        return super().encode(password, salt, iterations)


@pytest.fixture
def both_sources(settings, db_source_settings, ldap_source_settings, customer_user_factory):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    settings.CUSTOMER_USER_BACKENDS = {
        "CustomerUser": db_source_settings(CacheTTL=0),
        "CustomerUser1": ldap_source_settings(),
    }
    customer_user_factory(login="dbuser", email="dbuser@example.com")
    customer_user_factory(login="nopassword", email="nopassword@example.com")
    set_customer_user_password(login="dbuser", password="Right-password-1", acting_user=None)
    CustomerUser.objects.filter(login="nopassword").update(password="")  # never set one
    authenticate_customer_user("nobody-at-all", "warm-up")  # the unknown login's hash is made once
    SLOW_HASHES.clear()


@pytest.mark.ldap
@pytest.mark.django_db
@pytest.mark.parametrize("login", ["dbuser", "nopassword", "person0007", "nobody-knows-me"])
def test_every_refused_login_costs_one_slow_hash(both_sources, login):
    outcome = authenticate_customer_user(login, "wrong-guess")
    assert (outcome.ok, outcome.reason, outcome.message) == (
        False, "bad_credentials", "Login failed: the login or the password is wrong."
    )  # fmt: skip
    assert SLOW_HASHES == ["wrong-guess"]


@pytest.mark.ldap
@pytest.mark.django_db
def test_a_right_password_still_logs_in_at_either_source(both_sources):
    assert authenticate_customer_user("dbuser", "Right-password-1").ok
    assert authenticate_customer_user("person0007", PASSWORD).ok
