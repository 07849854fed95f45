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


@pytest.fixture(autouse=True)
def _empty_cache(settings):
    """Every test starts with an empty cache: cached source reads and permissions belong to one test.

    Tests in this process use a local cache (answers stay coherent: their keys carry the generations kept
    in the database); the shared default is tested as deployed, under gunicorn (tests/deployment/).
    """
    from django.core.cache import cache

    from core.generations import forget_in_process

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    forget_in_process()
    cache.clear()
    yield
    cache.clear()
    forget_in_process()


@pytest.fixture
def db_source_settings():
    """Return a factory of DB source configs: the shipped one with keys overridden."""

    def make(**overrides):
        config = copy.deepcopy(DEFAULT_CUSTOMER_USER_SOURCE)
        config.update(overrides)
        return config

    return make


@pytest.fixture
def panel_customer_user(settings, db_source_settings):
    """Return a factory: a customer user of customer ACME in the shipped DB source, who can log in to the
    panel with `password` (the panel's account tests: reset, sign-up, two-factor, in the browser too)."""
    from customers.models import Customer
    from customers.services import create_customer_user

    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.get_or_create(customer_id="ACME", defaults={"name": "Acme"})

    def make(login: str, first_name: str, last_name: str, password: str):
        return create_customer_user(
            attributes={"UserLogin": login, "UserFirstname": first_name, "UserLastname": last_name,
                        "UserEmail": f"{login}@example.com", "UserCustomerID": "ACME", "UserPassword": password},
            acting_user=None,
        )  # fmt: skip

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
    """The session's directory: 2,100 people under ou=people (size limit 500) and 60 under ou=partners."""
    if not shutil.which("slapd", path="/usr/sbin:/usr/bin"):
        pytest.fail("slapd is not installed: `make test` installs it (apt-get install slapd ldap-utils)")
    from tests.ldap_server import DirectoryServer, people_ldif

    server = DirectoryServer()
    server.start()
    server.load(people_ldif())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb():
    """The session's MariaDB server, for external tables on MySQL/MariaDB (DBI:mysql DSNs)."""
    if not shutil.which("mariadbd", path="/usr/sbin:/usr/bin"):
        pytest.fail(
            "mariadb-server is not installed: `make test` installs it (apt-get install mariadb-server)"
        )
    from tests.mariadb_server import MariaDBServer

    server = MariaDBServer()
    server.start()
    yield server
    server.stop()


class _Mailbox:
    """What the session's SMTP server received, newest last (once the app's mail sender is idle: mails go
    after the answer, core.mail)."""

    def __init__(self) -> None:
        self._received: list = []

    @property
    def messages(self) -> list:
        from core.mail import wait_until_sent

        wait_until_sent()
        return self._received


class _Receiver:
    """The SMTP server's handler (aiosmtpd inspects it, so it is not the mailbox with its waiting property)."""

    def __init__(self, received: list) -> None:
        self.received = received

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        from email import message_from_bytes, policy

        self.received.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free loopback port for the session; yields its mailbox."""
    from aiosmtpd.controller import Controller

    from tests.stack import free_port

    mailbox = _Mailbox()
    controller = Controller(_Receiver(mailbox._received), hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_server, settings):
    """Django sends through the session's SMTP server; the mailbox starts empty."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", smtp_server.port, False
    smtp_server.messages.clear()
    return smtp_server


@pytest.fixture
def ldap_source_settings(slapd):
    """Return a factory of LDAP source configs for the session's directory, with keys overridden."""
    from tests.ldap_server import PEOPLE_DN, SERVICE_DN, SERVICE_PW

    def make(params=None, **overrides):
        config = {
            "Name": "Directory",
            "Module": "LDAP",
            "Params": {"Host": slapd.ldap_uri, "BaseDN": PEOPLE_DN, "SSCOPE": "one", "UserDN": SERVICE_DN,
                       "UserPw": SERVICE_PW, "AlwaysFilter": "(objectClass=inetOrgPerson)",
                       "Params": {"timeout": 5, "version": 3}},
            "CustomerKey": "uid",
            "CustomerID": "departmentNumber",
            "CustomerUserListFields": ["givenName", "sn", "mail"],
            "CustomerUserSearchFields": ["uid", "givenName", "sn", "mail"],
            "CustomerUserSearchPrefix": "",
            "CustomerUserSearchSuffix": "*",
            "CustomerUserSearchListLimit": 250,
            "CustomerUserPostMasterSearchFields": ["mail"],
            "CustomerUserNameFields": ["givenName", "sn"],
            "CustomerUserValidFilter": "(!(employeeType=disabled))",
            "CustomerGroupSupport": 1,
            "CacheTTL": 0,
            "Map": [
                ["UserFirstname", "Firstname", "givenName", 1, 1, "var"],
                ["UserLastname", "Lastname", "sn", 1, 1, "var"],
                ["UserLogin", "Username", "uid", 1, 1, "var"],
                ["UserEmail", "Email", "mail", 1, 1, "var"],
                ["UserCustomerID", "CustomerID", "departmentNumber", 0, 1, "var"],
                ["UserCustomerIDs", "CustomerIDs", "businessCategory", 1, 0, "var"],
                ["UserPhone", "Phone", "telephoneNumber", 1, 0, "var"],
                ["UserComment", "Comment", "description", 1, 0, "var"],
            ],
        }  # fmt: skip
        config["Params"].update(params or {})
        config.update(overrides)
        return config

    return make
