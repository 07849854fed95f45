import copy
import shutil

import pytest
from pytest_factoryboy import register

from helpdesk.config import DEFAULT_CUSTOMER_USER_SOURCE
from tests.factories import CustomerFactory, CustomerUserFactory, GroupFactory, ServiceFactory

register(CustomerFactory)
register(CustomerUserFactory)
register(GroupFactory)
register(ServiceFactory)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests hash many passwords; the production hasher list is checked in its own test."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


@pytest.fixture
def db_source_settings():
    """Return a factory of DB source configs: the shipped one with keys overridden."""

    def make(**overrides):
        config = copy.deepcopy(DEFAULT_CUSTOMER_USER_SOURCE)
        config.update(overrides)
        return config

    return make


@pytest.fixture
def registry(db_source_settings):
    """A registry of the shipped DB source; tests that need other configs build their own."""
    from backends.registry import SourceHandler

    return SourceHandler({"CustomerUser": db_source_settings()})


@pytest.fixture
def acting_user(django_user_model, db):
    return django_user_model.objects.create_user("agent", password="agent-password", is_staff=True)


@pytest.fixture(scope="session")
def slapd():
    """A throwaway slapd with ou=people under dc=example,dc=org, for the whole session."""
    if not shutil.which("slapd", path="/usr/sbin:/usr/bin"):
        pytest.fail("slapd is not installed: `make test` installs it (apt-get install slapd ldap-utils)")
    from tests.ldap_server import DirectoryServer

    server = DirectoryServer()
    server.start()
    yield server
    server.stop()
