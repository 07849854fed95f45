"""Path parity (issue 32): one corpus of inputs through every path that writes, the same decision and the same
stored value on each. A later write path (sync, SCIM, single sign-on) joins the PATHS below."""

import contextlib
import csv
import io
import json
import os
import re

import psycopg2
import pytest
from django.contrib.auth.models import Group as AuthGroup
from django.core import signing
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

import backends.values
from customers.models import Customer, CustomerUser
from customers.signup import SALT as SIGNUP_SALT
from customers.signup import complete_signup, pending_signup
from staff.roles import CUSTOMER_ADMINISTRATORS
from tests.mariadb_server import PASSWORD as MARIADB_PASSWORD
from tests.mariadb_server import USER as MARIADB_USER
from tests.znuny_reference import TABLES

pytestmark = [pytest.mark.django_db]

PERSON = {"UserFirstname": "Ida", "UserLastname": "Lang", "UserCustomerID": "ACME"}
FORBIDDEN = "forbidden-by-a-test-rule"


@backends.values.text_check()
def _test_only_rule(rule, text):
    """A rule added to the Map's one home (backends.values), which every path must then apply."""
    return f"{rule.label} is refused by the test's rule." if FORBIDDEN in text else None


# (case, attributes, what each path must decide: the stored login and customer ID, or the field refused)
CASES = [
    ("valid", {"UserLogin": "ida", "UserEmail": "ida@example.com"}, ("ida", "ACME")),
    ("customer ID in another case", {"UserLogin": "ida", "UserEmail": "ida@example.com", "UserCustomerID": "acme"},
     ("ida", "ACME")),
    ("unknown customer", {"UserLogin": "ida", "UserEmail": "ida@example.com", "UserCustomerID": "NOPE"},
     "UserCustomerID"),
    ("control character in the login", {"UserLogin": "BEL\x07CO", "UserEmail": "bel@example.com"}, "UserLogin"),
    ("line separator in the login", {"UserLogin": "line\u2028sep", "UserEmail": "sep@example.com"}, "UserLogin"),
    ("control character in the customer ID",
     {"UserLogin": "ida", "UserEmail": "ida@example.com", "UserCustomerID": "AC\x07ME"}, "UserCustomerID"),
    ("login taken in our table, another case", {"UserLogin": "TAKEN", "UserEmail": "new@example.com"}, "UserLogin"),
    ("login held by a later source (R20)", {"UserLogin": "person0001", "UserEmail": "p1@example.com"}, "UserLogin"),
    ("e-mail taken, another case", {"UserLogin": "ida", "UserEmail": "TAKEN@example.com"}, "UserEmail"),
    ("invalid e-mail", {"UserLogin": "ida", "UserEmail": "not-an-address"}, "UserEmail"),
    ("last name too long", {"UserLogin": "ida", "UserEmail": "ida@example.com", "UserLastname": "L" * 300},
     "UserLastname"),
    ("a rule added to backends.values", {"UserLogin": "ida", "UserEmail": "ida@example.com",
                                         "UserLastname": f"x-{FORBIDDEN}"}, "UserLastname"),
]  # fmt: skip


@pytest.fixture
def world(settings, db_source_settings, ldap_source_settings, monkeypatch, django_user_model):
    settings.CUSTOMER_USER_BACKENDS = {
        "CustomerUser": db_source_settings(CacheTTL=0),
        "CustomerUser1": ldap_source_settings(),
    }
    settings.HELPDESK_SETTINGS = {
        **settings.HELPDESK_SETTINGS,
        "CustomerPanelCreateAccountCustomerID": "ACME",
    }
    monkeypatch.setattr(backends.values, "TEXT_CHECKS", (*backends.values.TEXT_CHECKS, _test_only_rule))
    Customer.objects.create(customer_id="ACME", name="Acme")
    CustomerUser.objects.create(login="taken", email="taken@example.com", customer_id="ACME", first_name="T",
                                last_name="T")  # fmt: skip
    staff = django_user_model.objects.create_user(
        "parity-admin", password="x", is_staff=True, is_superuser=True
    )
    staff.groups.add(AuthGroup.objects.get(name=CUSTOMER_ADMINISTRATORS))
    return staff


def via_api(attributes, staff, tmp_path, client, request):
    api = APIClient()
    api.force_authenticate(staff)
    response = api.post("/api/v1/customer-users/", {"source": "CustomerUser", **attributes}, format="json")
    assert response.status_code in (201, 400), response.content
    return set(response.json().get("fields", {})) if response.status_code == 400 else None


def via_admin(attributes, staff, tmp_path, client, request):
    client.force_login(staff)
    response = client.post(reverse("admin:customer_user_add"), {"source": "CustomerUser", "ValidID": "1",
                                                                  "UserPassword": "", **attributes})  # fmt: skip
    if response.status_code == 302:
        return None
    assert response.status_code == 200
    return set(response.context["form"].errors)


def _import(path):
    with contextlib.suppress(CommandError):
        call_command("import_customer_users", str(path), verbosity=0)
    report = path.with_name(path.name + ".errors.csv")
    if not report.exists():
        return None
    with report.open(encoding="utf-8") as handle:
        return {row["field"] for row in csv.DictReader(handle)}


def via_csv(attributes, staff, tmp_path, client, request):
    path = tmp_path / "users.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(attributes))
        writer.writeheader()
        writer.writerow(attributes)
    return _import(path)


def via_jsonl(attributes, staff, tmp_path, client, request):
    path = tmp_path / "users.jsonl"
    path.write_text(json.dumps(attributes) + "\n", encoding="utf-8")
    return _import(path)


def via_signup(attributes, staff, tmp_path, client, request):
    """The last step of sign-up (its customer ID is the configured one, not typed)."""
    from core.errors import ValidationFailed

    values = {k: v for k, v in attributes.items() if k != "UserCustomerID"}
    token = signing.dumps({"source": "CustomerUser", "values": values}, salt=SIGNUP_SALT, compress=True)
    try:
        complete_signup(pending_signup(token), "a long enough Passw0rd!")
    except ValidationFailed as exc:
        return set(exc.field_errors)
    return None


SCIM_FIELDS = {"userName": "UserLogin", "emails": "UserEmail", "name.givenName": "UserFirstname",
               "name.familyName": "UserLastname", "active": "ValidID"}  # fmt: skip


def via_scim(attributes, staff, tmp_path, client, request):
    """POST /scim/v2/Users by a SCIM client of ACME (its company is the client's, never the person's)."""
    from provisioning.clients import create_scim_client

    _made, token = create_scim_client(name="parity-idp", source="CustomerUser", companies=["ACME"])
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": attributes["UserLogin"],
            "name": {"givenName": attributes["UserFirstname"], "familyName": attributes["UserLastname"]},
            "emails": [{"value": attributes["UserEmail"], "type": "work", "primary": True}]}  # fmt: skip
    response = client.post("/scim/v2/Users", json.dumps(body), content_type="application/scim+json",
                           HTTP_AUTHORIZATION=f"Bearer {token}")  # fmt: skip
    assert response.status_code in (201, 400, 409), response.content
    if response.status_code == 201:
        return None
    named = [part.split(":", 1)[0].strip() for part in response.json()["detail"].split("; ")]
    return {SCIM_FIELDS.get(name, name) for name in named}


def via_sso(attributes, staff, tmp_path, client, request):
    """The first login of a person an identity provider of ACME vouches for (the protocol's own checks are
    tests/provisioning/test_single_sign_on.py's): its company is the provider's, never the person's."""
    from provisioning.identity_providers import parse_providers
    from provisioning.single_sign_on import Person, SignInRefused, sign_in

    (provider,), _problems = parse_providers([{
        "Name": "parity", "Protocol": "oidc", "Domains": ["example.com"], "Source": "CustomerUser",
        "Company": "ACME", "Issuer": "https://idp.example", "ClientID": "c", "ClientSecret": "s"}])  # fmt: skip
    claims = {"sub": attributes["UserLogin"], "given_name": attributes["UserFirstname"],
              "family_name": attributes["UserLastname"], "email": attributes["UserEmail"]}  # fmt: skip
    try:
        sign_in(provider, Person(attributes["UserLogin"], claims))
    except SignInRefused as exc:
        return set(exc.field_errors)
    return None


USER_COLUMNS = {"UserLogin": "login", "UserEmail": "email", "UserCustomerID": "customer_id",
                "UserFirstname": "first_name", "UserLastname": "last_name"}  # fmt: skip


def via_migration(vendor):
    """import_from_znuny from a reference database (PostgreSQL or MariaDB) holding the one row."""

    def run(attributes, staff, tmp_path, client, request):
        dsn, execute = request.getfixturevalue(f"znuny_{vendor}")
        columns = [USER_COLUMNS[a] for a in attributes]
        placeholders = ", ".join(["%s"] * len(columns))
        execute(f"INSERT INTO customer_user ({', '.join(columns)}, valid_id) VALUES ({placeholders}, 1)",
                list(attributes.values()))  # fmt: skip
        out = io.StringIO()
        call_command("import_from_znuny", "--dsn", dsn, verbosity=0, stdout=out, stderr=out)
        fields = re.findall(r"^skipped customer user '.*?': (\w+):", out.getvalue(), flags=re.M)
        return set(fields) or None

    return run


PATHS = {
    "api": via_api, "admin": via_admin, "csv": via_csv, "jsonl": via_jsonl, "signup": via_signup, "scim": via_scim,
    "sso": via_sso,
    "migration-postgresql": via_migration("postgresql"), "migration-mariadb": via_migration("mariadb"),
}  # fmt: skip
# The migration copies the reference's people: a login already here (case-blind, R55) is the same person and is
# updated by every run (the re-run tests in tests/customers/test_znuny_import.py), not refused as a new one.
SAME_PERSON = {("migration-postgresql", "login taken in our table, another case"),
               ("migration-mariadb", "login taken in our table, another case")}  # fmt: skip


@pytest.fixture
def znuny_postgresql():
    base = os.environ.get("HELPDESK_PG_URL")
    if not base:
        pytest.skip("the migration writes to PostgreSQL (make test-postgresql)")
    admin = psycopg2.connect(f"{base}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS znuny_parity WITH (FORCE)")
        cursor.execute("CREATE DATABASE znuny_parity")

    def execute(sql, params=()):
        with psycopg2.connect(f"{base}/znuny_parity") as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)

    execute(TABLES + "ALTER TABLE customer_user ALTER COLUMN last_name TYPE varchar(400);")
    yield f"{base}/znuny_parity", execute
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS znuny_parity WITH (FORCE)")
    admin.close()


@pytest.fixture
def znuny_mariadb(mariadb):
    if not os.environ.get("HELPDESK_PG_URL"):
        pytest.skip("the migration writes to PostgreSQL (make test-postgresql)")
    mariadb.create_database("znuny_parity")

    def execute(sql, params=()):
        with mariadb.cursor("znuny_parity") as cursor:
            cursor.execute(sql, params)

    for statement in filter(str.strip, TABLES.split(";\n")):
        execute(statement)
    execute("ALTER TABLE customer_user MODIFY last_name varchar(400) NOT NULL")
    return f"mysql://{MARIADB_USER}:{MARIADB_PASSWORD}@127.0.0.1:{mariadb.port}/znuny_parity", execute


@pytest.mark.ldap
@pytest.mark.sqlite
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("case", "attributes", "decision"), CASES, ids=[c[0] for c in CASES])
def test_every_path_takes_the_same_decision_and_stores_the_same_value(
    world, tmp_path, client, request, path, case, attributes, decision
):
    if path == "signup" and "UserCustomerID" in attributes:
        pytest.skip("sign-up takes its customer ID from the configuration, never from the person")
    if path in ("scim", "sso") and "UserCustomerID" in attributes and decision == "UserCustomerID":
        pytest.skip(
            "a SCIM client's or an identity provider's people belong to its company, never to one they name"
        )
    attributes = {**PERSON, **attributes}
    before = set(CustomerUser.objects.values_list("login", flat=True))

    refused = PATHS[path](attributes, world, tmp_path, client, request)

    added = list(CustomerUser.objects.exclude(login__in=before).values_list("login", "customer_id"))
    if (path, case) in SAME_PERSON:
        assert (refused, added, CustomerUser.objects.get(login="taken").email) == (
            None,
            [],
            "new@example.com",
        )
    elif isinstance(decision, tuple):
        assert (refused, added) == (None, [decision])
    else:
        assert decision in (refused or set())
        assert added == []


# ------------------------------------------------------------------------------------------- customers
CUSTOMER = {"CustomerCompanyName": "Nordwind", "CustomerCompanyCity": "Kiel"}
CUSTOMER_CASES = [
    ("valid", {"CustomerID": "NORD"}, "NORD"),
    ("customer ID taken in another case", {"CustomerID": "acme"}, "CustomerID"),
    ("control character in the ID", {"CustomerID": "BEL\x07CO"}, "CustomerID"),
    ("line separator in the ID", {"CustomerID": "line\u2028sep"}, "CustomerID"),
    ("name taken", {"CustomerID": "NORD", "CustomerCompanyName": "Acme"}, "CustomerCompanyName"),
    ("name too long", {"CustomerID": "NORD", "CustomerCompanyName": "N" * 200}, "CustomerCompanyName"),
    ("no name", {"CustomerID": "NORD", "CustomerCompanyName": ""}, "CustomerCompanyName"),
    ("e-mail domains as mail compares them", {"CustomerID": "NORD", "CustomerEmailDomains": "@Nord.Example"}, "NORD"),
    ("e-mail domain of another customer", {"CustomerID": "NORD", "CustomerEmailDomains": "ACME.example"},
     "CustomerEmailDomains"),
    ("not an e-mail domain", {"CustomerID": "NORD", "CustomerEmailDomains": "localhost"}, "CustomerEmailDomains"),
]  # fmt: skip
FORM_FIELDS = {"CustomerID": "customer_id", "CustomerCompanyName": "name", "CustomerCompanyCity": "city",
               "CustomerEmailDomains": "email_domains"}  # fmt: skip


def customer_via_api(values, staff, tmp_path, client):
    api = APIClient()
    api.force_authenticate(staff)
    if "CustomerEmailDomains" in values:  # a list in the API, text in a form or a file
        values = {**values, "CustomerEmailDomains": values["CustomerEmailDomains"].split()}
    response = api.post("/api/v1/customers/", values, format="json")
    assert response.status_code in (201, 400), response.content
    return set(response.json().get("fields", {})) if response.status_code == 400 else None


def customer_via_admin(values, staff, tmp_path, client):
    client.force_login(staff)
    form = {FORM_FIELDS[k]: v for k, v in values.items()} | {"validity": "1"}
    response = client.post(reverse("admin:customers_customer_add"), form)
    if response.status_code == 302:
        return None
    assert response.status_code == 200
    names = {v: k for k, v in FORM_FIELDS.items()}
    return {names.get(name, name) for name in response.context["adminform"].form.errors}


def _import_customers(path):
    with contextlib.suppress(CommandError):
        call_command("import_customers", str(path), verbosity=0)
    report = path.with_name(path.name + ".errors.csv")
    if not report.exists():
        return None
    with report.open(encoding="utf-8") as handle:
        return {row["field"] for row in csv.DictReader(handle)}


def customer_via_csv(values, staff, tmp_path, client):
    path = tmp_path / "customers.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(values))
        writer.writeheader()
        writer.writerow(values)
    return _import_customers(path)


def customer_via_jsonl(values, staff, tmp_path, client):
    path = tmp_path / "customers.jsonl"
    path.write_text(json.dumps(values) + "\n", encoding="utf-8")
    return _import_customers(path)


CUSTOMER_PATHS = {
    "api": customer_via_api, "admin": customer_via_admin, "csv": customer_via_csv, "jsonl": customer_via_jsonl,
}  # fmt: skip


@pytest.mark.sqlite
@pytest.mark.parametrize("path", CUSTOMER_PATHS)
@pytest.mark.parametrize(("case", "values", "decision"), CUSTOMER_CASES, ids=[c[0] for c in CUSTOMER_CASES])
def test_every_customer_path_takes_the_same_decision(
    settings, db_source_settings, django_user_model, tmp_path, client, path, case, values, decision
):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="ACME", name="Acme", email_domains="acme.example")
    staff = django_user_model.objects.create_user(
        "parity-admin", password="x", is_staff=True, is_superuser=True
    )
    staff.groups.add(AuthGroup.objects.get(name=CUSTOMER_ADMINISTRATORS))

    refused = CUSTOMER_PATHS[path]({**CUSTOMER, **values}, staff, tmp_path, client)

    added = list(Customer.objects.exclude(customer_id="ACME").values_list("customer_id", flat=True))
    if decision in FORM_FIELDS:
        assert (decision in (refused or set()), added) == (True, [])
    else:
        assert (refused, added) == (None, [decision])
        if "CustomerEmailDomains" in values:  # stored as mail compares domains, whichever path wrote it
            assert Customer.objects.get(customer_id=decision).email_domains == "nord.example"


# ------------------------------------------------------------------------------------------- directory sync
# The sync is a write path too: what a directory holds is the person's data, so the directory decides the
# customer ID and who holds a login elsewhere (R20); the Map's rules still decide every value, and a value
# they refuse is reported by the run (field, value, reason) and not stored.
MAP_RULE_CASES = ["valid", "control character in the login", "line separator in the login", "invalid e-mail",
                  "a rule added to backends.values"]  # fmt: skip
SYNC_CASES = [case for case in CASES if case[0] in MAP_RULE_CASES]


@pytest.fixture
def synced_directory(settings, world, ldap_source_settings):
    from tests.ldap_server import PEOPLE_DN, SyncDirectoryServer

    server = SyncDirectoryServer()
    server.start()
    settings.CUSTOMER_USER_BACKENDS = {
        **settings.CUSTOMER_USER_BACKENDS,
        "CustomerUser2": ldap_source_settings({"Host": server.ldap_uri}, Sync=True),
    }
    yield server, PEOPLE_DN
    server.stop()


@pytest.mark.ldap
@pytest.mark.parametrize(("case", "attributes", "decision"), SYNC_CASES, ids=[c[0] for c in SYNC_CASES])
def test_the_sync_takes_the_maps_decisions_and_stores_nothing_it_refuses(synced_directory, case, attributes,
                                                                          decision):  # fmt: skip
    import ldap
    import ldap.dn

    from backends.models import ShadowEntry
    from customers.sync import sync_source

    server, people = synced_directory
    values = {**PERSON, **attributes}
    entry = {"objectClass": ["inetOrgPerson"], "uid": values["UserLogin"], "cn": "Ida Lang",
             "givenName": values["UserFirstname"], "sn": values["UserLastname"], "mail": values["UserEmail"],
             "departmentNumber": values["UserCustomerID"]}  # fmt: skip
    connection = ldap.initialize(server.ldap_uri)
    connection.simple_bind_s(server.root_dn, server.root_pw)
    dn = f"uid={ldap.dn.escape_dn_chars(values['UserLogin'])},{people}"
    connection.add_s(dn, [(k, [v.encode()] if isinstance(v, str) else [x.encode() for x in v])
                          for k, v in entry.items()])  # fmt: skip

    run = sync_source("CustomerUser2").run

    stored = list(ShadowEntry.objects.filter(source="CustomerUser2").values_list("login", "customer_id"))
    if isinstance(decision, tuple):
        assert (run.status, run.errors, stored) == ("succeeded", [], [decision])
    else:
        assert (run.status, [e["field"] for e in run.errors], stored) == ("succeeded", [decision], [])
        assert run.counts["refused"] == 1


# ------------------------------------------------------------------------------------------ directory rules
# A company rule is a write path of a customer ID too (issue 37): one naming a customer in another case takes
# effect as the customer the other paths store ("customer ID in another case" above), read live or synced,
# and CreateMissing does not make a second customer of it.
@pytest.mark.ldap
@pytest.mark.parametrize("synced", [False, True], ids=["live", "synced"])
def test_a_rule_naming_a_company_in_another_case_decides_as_the_other_paths(
    synced_directory, settings, synced
):
    import ldap

    from backends.models import ShadowEntry
    from customers.models import CustomerGroup, Group
    from customers.selectors import customer_ids_of, get_customer_user
    from customers.sync import sync_source
    from permissions.matrix import get_permission_matrix

    server, people = synced_directory
    connection = ldap.initialize(server.ldap_uri)
    connection.simple_bind_s(server.root_dn, server.root_pw)
    connection.add_s(f"uid=ida,{people}", [
        ("objectClass", [b"inetOrgPerson"]), ("uid", [b"ida"]), ("cn", [b"Ida Lang"]), ("givenName", [b"Ida"]),
        ("sn", [b"Lang"]),
        ("mail", [b"ida@example.com"]), ("departmentNumber", [b"OTHER"]),
    ])  # fmt: skip
    desk = Group.objects.create(name="acme-desk")
    CustomerGroup.objects.create(customer_id="ACME", group=desk, permission="ro")
    config = settings.CUSTOMER_USER_BACKENDS["CustomerUser2"]
    settings.CUSTOMER_USER_BACKENDS = {
        **settings.CUSTOMER_USER_BACKENDS,
        "CustomerUser2": {**config, "Sync": synced, "CustomerGroupSupport": 1, "CompanyRules": [
            {"From": "subtree", "Match": people, "Company": "acme", "Primary": True, "CreateMissing": True}]},
    }  # fmt: skip
    if synced:
        assert sync_source("CustomerUser2").ok

    record = get_customer_user("ida")
    matrix = get_permission_matrix("ida")

    assert (record.customer_id.casefold(), customer_ids_of(record)) == ("acme", ["ACME"])
    assert [g.reason for g in matrix.why("acme-desk", "ro")] == ["via customer ACME: ro"]
    assert list(Customer.objects.values_list("customer_id", flat=True)) == ["ACME"]
    if synced:
        stored = ShadowEntry.objects.get(source="CustomerUser2", login="ida")
        assert (stored.customer_id, [c[0] for c in stored.derived["companies"]]) == ("ACME", ["ACME"])
