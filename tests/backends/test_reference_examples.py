"""Every customer-user back-end example of the reference's admin manual, kept as TOML under docs/examples/,
runs as written against the session's real servers: `manage.py check` is clean, then a search, a data
get, a postmaster search, the display string and a login, and what the example is about.

Only where the servers are changes: an LDAP `Host` and `BaseDN` become the session's slapd (read as the
example reads it: anonymously), a DSN's `host` the session's PostgreSQL or MariaDB (the example's database,
user and password are created there as written).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.checks import run_checks

from backends.registry import SourceHandler
from customers.authentication import authenticate_customer_user
from customers.selectors import get_customer_user, search_customer_users
from helpdesk.config import load_helpdesk_config
from tests.ldap_server import BASE_DN, PASSWORD, PEOPLE_DN, people

pytestmark = [pytest.mark.django_db, pytest.mark.ldap]

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
PERSON_PASSWORD = "Example-pass-7"
EXTERNAL_COLUMNS = (
    "id {serial}, login varchar(200) NOT NULL, email varchar(150) NOT NULL, customer_id varchar(150) NOT NULL,"
    " pw varchar(64), {title} varchar(50), first_name varchar(100) NOT NULL, last_name varchar(100) NOT NULL,"
    " phone varchar(150), fax varchar(150), mobile varchar(150), street varchar(150), zip varchar(200),"
    " city varchar(200), country varchar(200), comments varchar(250), valid_id smallint NOT NULL DEFAULT 1"
)


def examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.toml"))


def test_every_example_names_what_it_translates():
    assert len(examples()) >= 16
    for path in examples():
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# "), f"{path.name} starts without a comment naming its example"


@pytest.fixture
def directory_groups(slapd):
    """The GroupDN example's group, under the session's suffix."""
    groups = f"ou=posixGroups,{BASE_DN}"
    slapd.ldapadd(
        f"dn: {groups}\nobjectClass: organizationalUnit\nou: posixGroups\n\n"
        f"dn: cn=otrsallow,{groups}\nobjectClass: posixGroup\ncn: otrsallow\ngidNumber: 5001\nmemberUid: person0003\n"
    )
    yield f"cn=otrsallow,{groups}"
    slapd.ldapdelete(groups, recursive=True)


def external_database(kind: str, name: str, request) -> tuple[str, int]:
    """Create the example's database, user `otrs` (password `some-pass`) and an OTRS customer_user table;
    return (host, port)."""
    title = "salutation" if name == "otrs3" else "title"
    if kind == "mysql":
        server = request.getfixturevalue("mariadb")
        with server.cursor(admin=True) as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            cursor.execute("CREATE USER IF NOT EXISTS 'otrs'@'%' IDENTIFIED BY 'some-pass'")
            cursor.execute(f"GRANT ALL ON `{name}`.* TO 'otrs'@'%'")
        with server.cursor(name) as cursor:
            columns = EXTERNAL_COLUMNS.format(serial="integer AUTO_INCREMENT PRIMARY KEY", title=title)
            cursor.execute(f"CREATE TABLE customer_user ({columns})")
        return "127.0.0.1", server.port
    import os

    import psycopg2

    base = os.environ.get("HELPDESK_PG_URL")
    if not base:
        pytest.skip("needs the throwaway PostgreSQL cluster (make test-postgresql)")
    admin = psycopg2.connect(f"{base}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
        cursor.execute("DO $$ BEGIN CREATE ROLE otrs LOGIN PASSWORD 'some-pass'; EXCEPTION WHEN duplicate_object"
                       " THEN NULL; END $$")  # fmt: skip
        cursor.execute(f"GRANT ALL ON DATABASE {name} TO otrs")
    admin.close()
    connection = psycopg2.connect(f"{base}/{name}")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE customer_user ({EXTERNAL_COLUMNS.format(serial='serial PRIMARY KEY', title=title)})"
        )
        cursor.execute("ALTER TABLE customer_user OWNER TO otrs")
    connection.close()
    url = urlsplit(base)
    return url.hostname, url.port


def point_at_servers(raw: dict, request, slapd) -> dict:
    """The example's sources with only their servers changed (see the module's docstring)."""
    for config in raw.values():
        params = config.get("Params") or {}
        if "LDAP" in config["Module"]:
            params["Host"], params["BaseDN"] = slapd.ldap_uri, PEOPLE_DN
            if params.get("GroupDN"):
                params["GroupDN"] = request.getfixturevalue("directory_groups")
        elif params.get("DSN"):
            driver, name = re.match(r"DBI:(\w+):(?:dbname|database)=(\w+)", params["DSN"]).groups()
            host, port = external_database(driver.lower(), name, request)
            params["DSN"] = re.sub(r"host=[^;]+", f"host={host};port={port}", params["DSN"])
    return raw


def add_person(alias: str, config: dict, registry: SourceHandler, acting_user) -> dict:
    """One person in the source, the way it gets people: through the service for our own table, a row
    with the reference's unsalted SHA-256 hash in an external one, the session's entry in a directory."""
    if "LDAP" in config["Module"]:
        row = next(p for p in people() if p["uid"] == "person0003")
        return {"login": "person0003", "term": f"{row['first']} {row['last']}", "email": "person0003@example.org",
                "password": PASSWORD, "display": f'"{row["first"]} {row["last"]}" <person0003@example.org>'}  # fmt: skip
    person = {"login": f"ex.{alias.lower()}", "term": "Ångström", "email": f"ex.{alias.lower()}@example.com",
              "password": PERSON_PASSWORD}  # fmt: skip
    person["display"] = f'"Anna Ångström" <{person["email"]}>'
    params = config.get("Params") or {}
    if params.get("DSN"):
        database = registry[alias].using
        from django.db import connections

        title = "salutation" if "otrs3" in params["DSN"] else "title"
        with connections[database].cursor() as cursor:
            cursor.execute(
                f"INSERT INTO customer_user (login, email, customer_id, pw, {title}, first_name, last_name, valid_id)"
                " VALUES (%s, %s, 'EXT', %s, 'Dr.', 'Anna', 'Ångström', 1)",
                [person["login"], person["email"], hashlib.sha256(PERSON_PASSWORD.encode()).hexdigest()],
            )
        return person
    from customers.models import Customer
    from customers.services import create_customer, create_customer_user

    if not Customer.objects.filter(customer_id="ACME").exists():
        create_customer(customer_id="ACME", name="Acme Corp", acting_user=acting_user)
    attributes = {"UserLogin": person["login"], "UserFirstname": "Anna", "UserLastname": "Ångström",
                  "UserEmail": person["email"], "UserCustomerID": "ACME", "UserPassword": PERSON_PASSWORD}  # fmt: skip
    if config.get("AutoLoginCreation"):
        del attributes["UserLogin"]
    record, _ = create_customer_user(
        attributes=attributes, acting_user=acting_user, source=alias, registry=registry
    )
    person["login"] = record.login
    return person


@pytest.mark.parametrize("path", examples(), ids=lambda path: path.stem)
def test_the_manuals_example_runs_as_written(path, request, slapd, settings, acting_user):
    config = load_helpdesk_config(str(path))
    raw = point_at_servers(config.customer_user_backends, request, slapd)
    settings.CUSTOMER_USER_BACKENDS = raw
    settings.HELPDESK_SETTINGS = config.settings
    settings.HELPDESK_SETTINGS_PROBLEMS = config.problems
    assert [f"{m.id}: {m.msg}" for m in run_checks() if m.is_serious()] == []  # manage.py check

    registry = SourceHandler(raw)
    for alias, source_config in raw.items():
        person = add_person(alias, source_config, registry, acting_user)
        login = person["login"]
        found = search_customer_users(term=person["term"], source=alias, limit=1000, registry=registry)
        assert login in [row.login for row in found.rows], f"{alias}: search for {person['term']!r}"
        record = get_customer_user(login.upper(), registry=registry)  # R55: whatever the case
        assert (record.login, record.source) == (login, alias)
        by_mail = search_customer_users(postmaster=person["email"], registry=registry)
        assert [row.login for row in by_mail.rows] == [login]
        [row] = [row for row in found.rows if row.login == login]
        assert row.display == person["display"]
        outcome = authenticate_customer_user(login, person["password"], registry=registry)
        assert (outcome.ok, outcome.source) == (True, alias), outcome
        EXPECTED.get(path.stem, lambda **_: None)(alias=alias, login=login, registry=registry, raw=raw,
                                                   request=request)  # fmt: skip


# ------------------------------------------------------------------------ what each example is about
def _company_tickets_see_additional_ids(*, alias, login, registry, **_):
    from customers.services import update_customer_user
    from permissions.company_tickets import list_company_ticket_customer_ids

    if alias == "CustomerUser":
        update_customer_user(login=login, changes={"UserCustomerIDs": "OTHER;THIRD"}, acting_user=None,
                             registry=registry)  # fmt: skip
        assert sorted(list_company_ticket_customer_ids(login, registry=registry)) == [
            "ACME",
            "OTHER",
            "THIRD",
        ]


def _directory_company_tickets(*, login, registry, **_):
    from permissions.company_tickets import list_company_ticket_customer_ids

    person = next(p for p in people() if p["uid"] == "person0007")  # n % 7 == 0: additional IDs
    ids = list_company_ticket_customer_ids("person0007", registry=registry)
    assert sorted(ids) == sorted({person["customer_id"], *person["extra_customer_ids"]})


def _group_members_only(*, registry, **_):
    """R75: searches keep only the members of GroupDN (data get is not filtered)."""
    found = search_customer_users(term="person000*", limit=100, registry=registry)
    assert [row.login for row in found.rows] == ["person0003"]


def _exclude_primary_and_auto_login(*, login, registry, **_):
    from permissions.company_tickets import list_company_ticket_customer_ids

    assert re.fullmatch(r"auto-\d{12}\d+", login)  # R56(4)
    assert list_company_ticket_customer_ids(login, registry=registry) == []  # only the primary, excluded


def _global_group_support(*, registry, **_):
    assert registry["CustomerUser"].config.group_support


def _permission_types(**_):
    from permissions.selectors import permission_types

    assert permission_types() == ["ro", "create", "rw"]


def _always_groups(*, login, registry, **_):
    from customers.models import Group
    from permissions.matrix import build_permission_matrix

    Group.objects.get_or_create(name="users")
    matrix = build_permission_matrix(login, registry=registry)
    assert matrix.allows("users", "rw")


def _no_company_tickets(*, login, registry, **_):
    from permissions.company_tickets import list_company_ticket_customer_ids

    assert list_company_ticket_customer_ids(login, registry=registry) == []


def _dynamic_field_mapping(*, login, registry, **_):
    from tickets.models import Ticket
    from tickets.services import copy_customer_user_fields

    ticket = Ticket(customer_user_login=login, dynamic_fields={})
    copy_customer_user_fields(ticket, registry=registry)  # R160
    assert ticket.dynamic_fields == {"CustomerFirstname": "Anna", "CustomerLastname": "Ångström"}


def _otrs3_hash_upgraded_where_it_fits(*, alias, login, registry, **_):
    from django.db import connections

    with connections[registry[alias].using].cursor() as cursor:
        cursor.execute("SELECT pw FROM customer_user WHERE login = %s", [login])
        stored = cursor.fetchone()[0]
    assert stored != hashlib.sha256(PERSON_PASSWORD.encode()).hexdigest()  # the login replaced it …
    assert len(stored) <= 64  # … by a salted hash that fits the column


EXPECTED = {
    "04-db-company-tickets": _company_tickets_see_additional_ids,
    "06-ldap-company-tickets": _directory_company_tickets,
    "09-ldap-group-dn": _group_members_only,
    "10-db-exclude-primary-customer-id": _exclude_primary_and_auto_login,
    "11-settings-group-support": _global_group_support,
    "12-settings-permission-types": _permission_types,
    "13-settings-always-groups": _always_groups,
    "14-settings-no-company-tickets": _no_company_tickets,
    "15-settings-dynamic-field-mapping": _dynamic_field_mapping,
    "16-db-otrs3-table": _otrs3_hash_upgraded_where_it_fits,
}
