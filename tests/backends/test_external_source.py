"""The DB source on a table in another, real PostgreSQL database with its own column names."""

import os

import psycopg2
import pytest
from django.core.management import call_command

from backends.base import SearchQuery
from backends.config import validate_source_config
from backends.errors import CustomerUserInvalid, SourceUnavailable
from backends.registry import SourceHandler

pytestmark = [pytest.mark.django_db]

TABLE = """
CREATE TABLE contacts (
    username varchar(100) PRIMARY KEY,
    given varchar(60) NOT NULL DEFAULT '',
    family varchar(60) NOT NULL DEFAULT '',
    mail varchar(120) NOT NULL DEFAULT '',
    company varchar(40) NOT NULL DEFAULT '',
    phone_number varchar(40),
    active smallint NOT NULL DEFAULT 1,
    password_hash varchar(200)
)
"""
ROWS = [
    ("ext.anna", "Anna", "Ångström", "anna@partner.example", "EXT-1", "+46 1", 1),
    ("ext.bjorn", "Björn", "Borg", "bjorn@partner.example", "EXT-1", None, 1),
    ("ext.carl", "Carl", "Cederström", "carl@partner.example", "EXT-2", None, 2),
]


@pytest.fixture(scope="module")
def external_dsn():
    base = os.environ.get("HELPDESK_PG_URL")
    if not base:
        pytest.skip("needs the throwaway PostgreSQL cluster (make test-postgresql)")
    admin = psycopg2.connect(f"{base}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS partner_crm")
        cursor.execute("CREATE DATABASE partner_crm")
    yield f"{base}/partner_crm"
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS partner_crm WITH (FORCE)")
    admin.close()


@pytest.fixture
def external_table(external_dsn):
    connection = psycopg2.connect(external_dsn)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS contacts")
        cursor.execute(TABLE)
        cursor.executemany(
            "INSERT INTO contacts (username, given, family, mail, company, phone_number, active)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            ROWS,
        )
    yield connection
    connection.close()


def external_config(dsn, **overrides):
    config = {
        "Name": "Partner CRM",
        "Module": "DB",
        "Params": {"DSN": dsn, "Table": "contacts"},
        "CustomerKey": "username",
        "CustomerID": "company",
        "CustomerValid": "active",
        "CustomerUserListFields": ["given", "family", "mail"],
        "CustomerUserSearchFields": ["username", "given", "family", "mail"],
        "CustomerUserSearchPrefix": "*",
        "CustomerUserSearchSuffix": "*",
        "CustomerUserNameFields": ["given", "family"],
        "CustomerCompanySupport": 0,
        "CacheTTL": 0,
        "Map": [
            ["UserFirstname", "Firstname", "given", 1, 1, "var"],
            ["UserLastname", "Lastname", "family", 1, 1, "var"],
            ["UserLogin", "Username", "username", 1, 1, "var"],
            ["UserPassword", "Password", "password_hash", 0, 0, "var"],
            ["UserEmail", "Email", "mail", 1, 1, "var"],
            ["UserCustomerID", "CustomerID", "company", 0, 1, "var"],
            ["UserPhone", "Phone", "phone_number", 1, 0, "var"],
            ["ValidID", "Valid", "active", 0, 1, "int"],
        ],
    }
    config.update(overrides)
    return config


def source(config):
    return SourceHandler({"CustomerUser2": config})["CustomerUser2"]


def rows(connection):
    with connection.cursor() as cursor:
        cursor.execute("SELECT username, given, family, company, active FROM contacts ORDER BY username")
        return cursor.fetchall()


def test_list_and_search_fields_are_columns_of_the_table(external_table, external_dsn):
    """A column outside the Map can be listed and searched (R43, R44); one the table lacks makes the
    source unavailable, naming it, instead of failing a query."""
    config = external_config(external_dsn, CustomerUserListFields=["given", "phone_number"],
                             CustomerUserSearchFields=["username", "phone_number"])  # fmt: skip
    config["Map"] = [row for row in config["Map"] if row[0] != "UserPhone"]
    partner = source(config)
    [anna] = partner.search(SearchQuery(term="46")).records
    assert (anna.login, anna.display) == ("ext.anna", "Anna +46 1")
    partner = source(external_config(external_dsn, CustomerUserSearchFields=["username", "nickname"]))
    with pytest.raises(SourceUnavailable, match="table 'contacts' has no column 'nickname'"):
        partner.search(SearchQuery(term="anna"))


def test_reads_an_external_table_through_the_map(external_table, external_dsn):
    partner = source(external_config(external_dsn))
    assert not partner.runs_inline  # asked in a worker thread, on its own connection
    found = partner.search(SearchQuery(term="ström"))
    assert [r.login for r in found.records] == ["ext.anna"]  # ext.carl is invalid
    assert [r.login for r in partner.search(SearchQuery(term="ström", valid_only=False)).records] == [
        "ext.anna", "ext.carl",
    ]  # fmt: skip
    anna = partner.get("EXT.ANNA")
    assert (anna.full_name, anna.customer_id, anna.get("UserPhone"), anna.valid_id) == (
        "Anna Ångström", "EXT-1", "+46 1", 1,
    )  # fmt: skip
    assert "UserPassword" not in anna.attributes
    assert partner.list_customer_id_values(None) == ["EXT-1"]


def test_writes_an_external_table_and_its_column_sizes_bound_the_values(external_table, external_dsn):
    partner = source(external_config(external_dsn))
    partner.add({"UserLogin": "ext.dora", "UserFirstname": "Dóra", "UserLastname": "Dávid",
                 "UserEmail": "dora@partner.example", "UserCustomerID": "EXT-2", "ValidID": 1}, acting_user=None)  # fmt: skip
    partner.update("ext.dora", {"UserLogin": "ext.dorottya", "UserFirstname": "Dorottya", "UserLastname": "Dávid",
                                "UserEmail": "dora@partner.example", "UserCustomerID": "EXT-2", "ValidID": 1}, acting_user=None)  # fmt: skip
    assert ("ext.dorottya", "Dorottya", "Dávid", "EXT-2", 1) in rows(external_table)
    assert "ext.dora" not in [row[0] for row in rows(external_table)]

    before = rows(external_table)
    with pytest.raises(CustomerUserInvalid) as caught:
        partner.add({"UserLogin": "ext.long", "UserFirstname": "x" * 61, "UserLastname": "Long",
                     "UserEmail": "long@partner.example", "UserCustomerID": "EXT-2"}, acting_user=None)  # fmt: skip
    assert caught.value.field_errors == {
        "UserFirstname": ["Firstname has 61 characters; at most 60 are allowed."]
    }
    with pytest.raises(CustomerUserInvalid, match="already exists"):
        partner.update("ext.dorottya", {"UserLogin": "ext.anna", "UserFirstname": "D", "UserLastname": "D",
                                        "UserEmail": "d@partner.example", "UserCustomerID": "EXT-2", "ValidID": 1},
                       acting_user=None)  # fmt: skip
    assert rows(external_table) == before


def test_passwords_in_an_external_table(external_table, external_dsn):
    partner = source(external_config(external_dsn))
    partner.set_password("ext.bjorn", "Tennis 1980")
    assert partner.check_password("ext.bjorn", "Tennis 1980") is True
    assert partner.check_password("ext.bjorn", "tennis 1980") is False


def test_no_migration_touches_the_external_table(external_table, external_dsn):
    source(external_config(external_dsn)).get("ext.anna")
    call_command("makemigrations", check=True, dry_run=True, verbosity=0)


def test_a_missing_database_or_column_makes_the_source_unavailable(external_table, external_dsn):
    gone = source(external_config(external_dsn.rsplit("/", 1)[0] + "/no_such_database"))
    with pytest.raises(SourceUnavailable, match='database "no_such_database" does not exist'):
        gone.search(SearchQuery(term="anna"))
    config = external_config(external_dsn)
    config["Map"] = [*config["Map"], ["UserCity", "City", "city", 1, 0, "var"]]
    with pytest.raises(SourceUnavailable, match="table 'contacts' has no column 'city'"):
        source(config).get("ext.anna")


def test_external_configuration_problems(external_dsn):
    both = external_config(external_dsn)
    both["Params"] = {"DSN": external_dsn, "Database": "default", "Table": "contacts"}
    assert "give DSN or Database, not both" in [
        p.message for p in validate_source_config("CustomerUser2", both)
    ]
    unknown = external_config(external_dsn)
    unknown["Params"] = {"Database": "crm", "Table": "contacts"}
    assert [p.message for p in validate_source_config("CustomerUser2", unknown)] == [
        "'crm' is not a DATABASES alias"
    ]
    bad_table = external_config(external_dsn)
    bad_table["Params"] = {"DSN": external_dsn, "Table": "contacts; drop"}
    assert [p.message for p in validate_source_config("CustomerUser2", bad_table)] == [
        "'contacts; drop' is not a table name"
    ]


def test_a_number_login_column_is_reported_not_a_500(
    external_table, external_dsn, settings, django_user_model
):
    """Measured: with `CustomerKey` on an integer column every read failed on lower(integer) and
    `GET /api/v1/sources/` answered 500. Now the source is reported unreachable, saying why."""
    from rest_framework.test import APIClient

    with external_table.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS numbered")
        cursor.execute("CREATE TABLE numbered (id integer PRIMARY KEY, given varchar(60), family varchar(60),"
                       " mail varchar(120), company varchar(40), active smallint)")  # fmt: skip
        cursor.execute("INSERT INTO numbered VALUES (7, 'Nu', 'Mber', 'n@example.com', 'X', 1)")
    config = external_config(external_dsn, CustomerKey="id", CustomerUserSearchFields=["given", "family"])
    config["Params"] = {"DSN": external_dsn, "Table": "numbered"}
    config["Map"] = [row for row in config["Map"] if row[0] not in ("UserPassword", "UserPhone")]
    config["Map"] = [[*row[:2], "id", *row[3:]] if row[0] == "UserLogin" else row for row in config["Map"]]
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": config}
    with pytest.raises(SourceUnavailable, match="login column 'id' of table 'numbered' holds IntegerField"):
        source(config).search(SearchQuery(term="nu*"))
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_superuser("s", "s@example.com", "Pass-word-1"))
    answer = client.get("/api/v1/sources/")
    assert answer.status_code == 200, answer.content
    assert "holds IntegerField" in str(answer.json())
    assert client.get("/api/v1/customer-users/?search=nu*").status_code == 200
