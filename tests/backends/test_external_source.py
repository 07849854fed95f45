"""The DB source on a table in another, real database with its own column names: PostgreSQL given by URL,
and MariaDB given by a Perl DBI DSN with `User` and `Password`, as the reference's manual writes it."""

import hashlib
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

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


@dataclass(frozen=True)
class ExternalDatabase:
    """The `Params` that reach one database, and a way to connect to it directly."""

    vendor: str
    params: dict
    connect: object

    def dsn_for(self, name: str) -> str:
        return self.params["DSN"].replace("partner_crm", name)


@pytest.fixture(scope="module", params=["postgresql", "postgresql-dbi", "mariadb"])
def external_db(request):
    if request.param == "mariadb":
        import MySQLdb

        from tests.mariadb_server import PASSWORD, USER

        server = request.getfixturevalue("mariadb")
        dsn = server.create_database("partner_crm")

        def connect():
            connection = MySQLdb.connect(host="127.0.0.1", port=server.port, user=USER, password=PASSWORD,
                                         database="partner_crm", charset="utf8mb4")  # fmt: skip
            connection.autocommit(True)
            return connection

        yield ExternalDatabase("mysql", {"DSN": dsn, "User": USER, "Password": PASSWORD}, connect)
        return
    base = os.environ.get("HELPDESK_PG_URL")
    if not base:
        pytest.skip("needs the throwaway PostgreSQL cluster (make test-postgresql)")
    admin = psycopg2.connect(f"{base}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS partner_crm")
        cursor.execute("CREATE DATABASE partner_crm")

    def connect():
        connection = psycopg2.connect(f"{base}/partner_crm")
        connection.autocommit = True
        return connection

    if request.param == "postgresql-dbi":
        url = urlsplit(base)
        dsn = f"DBI:Pg:dbname=partner_crm;host={url.hostname};port={url.port}"
        yield ExternalDatabase("postgresql", {"DSN": dsn, "User": url.username, "Password": ""}, connect)
    else:
        yield ExternalDatabase("postgresql", {"DSN": f"{base}/partner_crm"}, connect)
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS partner_crm WITH (FORCE)")
    admin.close()


@pytest.fixture
def external_table(external_db):
    connection = external_db.connect()
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


def external_config(database, **overrides):
    config = {
        "Name": "Partner CRM",
        "Module": "DB",
        "Params": {**database.params, "Table": "contacts"},
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


def test_list_and_search_fields_are_columns_of_the_table(external_table, external_db):
    """A column outside the Map can be listed and searched (R43, R44); one the table lacks makes the
    source unavailable, naming it, instead of failing a query."""
    config = external_config(external_db, CustomerUserListFields=["given", "phone_number"],
                             CustomerUserSearchFields=["username", "phone_number"])  # fmt: skip
    config["Map"] = [row for row in config["Map"] if row[0] != "UserPhone"]
    partner = source(config)
    [anna] = partner.search(SearchQuery(term="46")).records
    assert (anna.login, anna.display) == ("ext.anna", "Anna +46 1")
    partner = source(external_config(external_db, CustomerUserSearchFields=["username", "nickname"]))
    with pytest.raises(SourceUnavailable, match="table 'contacts' has no column 'nickname'"):
        partner.search(SearchQuery(term="anna"))


def test_reads_an_external_table_through_the_map(external_table, external_db):
    partner = source(external_config(external_db))
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
    assert partner.get("ext.bjorn").get("UserPhone") == ""  # NULL reads as empty, in a get and a search
    assert [r.get("UserPhone") for r in partner.search(SearchQuery(term="björn")).records] == [""]
    assert partner.list_customer_id_values(None) == ["EXT-1"]


def test_writes_an_external_table_and_its_column_sizes_bound_the_values(external_table, external_db):
    partner = source(external_config(external_db))
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
        "UserFirstname": ["First name has 61 characters; at most 60 are allowed."]
    }
    with pytest.raises(CustomerUserInvalid, match="already exists"):
        partner.update("ext.dorottya", {"UserLogin": "ext.anna", "UserFirstname": "D", "UserLastname": "D",
                                        "UserEmail": "d@partner.example", "UserCustomerID": "EXT-2", "ValidID": 1},
                       acting_user=None)  # fmt: skip
    assert rows(external_table) == before


def test_passwords_in_an_external_table(external_table, external_db):
    partner = source(external_config(external_db))
    partner.set_password("ext.bjorn", "Tennis 1980")
    assert partner.check_password("ext.bjorn", "Tennis 1980") is True
    assert partner.check_password("ext.bjorn", "tennis 1980") is False


def test_no_migration_touches_the_external_table(external_table, external_db):
    source(external_config(external_db)).get("ext.anna")
    call_command("makemigrations", check=True, dry_run=True, verbosity=0)


def test_a_missing_database_or_column_makes_the_source_unavailable(external_table, external_db):
    gone = external_config(external_db)
    gone["Params"]["DSN"] = external_db.dsn_for("no_such_database")
    with pytest.raises(
        SourceUnavailable,
        match=r"""database "no_such_database" does not exist|Unknown database 'no_such_database'""",
    ):
        source(gone).search(SearchQuery(term="anna"))
    config = external_config(external_db)
    config["Map"] = [*config["Map"], ["UserCity", "City", "city", 1, 0, "var"]]
    with pytest.raises(SourceUnavailable, match="table 'contacts' has no column 'city'"):
        source(config).get("ext.anna")


def test_external_configuration_problems(external_db):
    both = external_config(external_db)
    both["Params"] = {**external_db.params, "Database": "default", "Table": "contacts"}
    assert "give DSN or Database, not both" in [
        p.message for p in validate_source_config("CustomerUser2", both)
    ]
    unknown = external_config(external_db)
    unknown["Params"] = {"Database": "crm", "Table": "contacts"}
    assert [p.message for p in validate_source_config("CustomerUser2", unknown)] == [
        "'crm' is not a DATABASES alias"
    ]
    bad_table = external_config(external_db)
    bad_table["Params"] = {**external_db.params, "Table": "contacts; drop"}
    assert [p.message for p in validate_source_config("CustomerUser2", bad_table)] == [
        "'contacts; drop' is not a table name"
    ]


def test_a_number_login_column_is_reported_not_a_500(
    external_table, external_db, settings, django_user_model
):
    """Measured: with `CustomerKey` on an integer column every read failed on lower(integer) and
    `GET /api/v1/sources/` answered 500. Now the source is reported unreachable, saying why."""
    from rest_framework.test import APIClient

    with external_table.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS numbered")
        cursor.execute("CREATE TABLE numbered (id integer PRIMARY KEY, given varchar(60), family varchar(60),"
                       " mail varchar(120), company varchar(40), active smallint)")  # fmt: skip
        cursor.execute("INSERT INTO numbered VALUES (7, 'Nu', 'Mber', 'n@example.com', 'X', 1)")
    config = external_config(external_db, CustomerKey="id", CustomerUserSearchFields=["given", "family"])
    config["Params"] = {**external_db.params, "Table": "numbered"}
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


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("DBI:Pg:dbname=crm;host=db.example;port=5433",
         {"ENGINE": "django.db.backends.postgresql", "NAME": "crm", "HOST": "db.example", "PORT": "5433"}),
        ("DBI:mysql:database=customerdb;host=customerdbhost",
         {"ENGINE": "django.db.backends.mysql", "NAME": "customerdb", "HOST": "customerdbhost", "PORT": 3306}),
        ("dbi:mysql:customerdb", {"ENGINE": "django.db.backends.mysql", "NAME": "customerdb", "HOST": "localhost"}),
        ("DBI:MariaDB:db=crm;host=h", {"ENGINE": "django.db.backends.mysql", "NAME": "crm", "HOST": "h"}),
        ("postgres://u:p@h:5432/n", {"ENGINE": "django.db.backends.postgresql", "NAME": "n", "USER": "u"}),
    ],
)  # fmt: skip
def test_perl_dbi_dsns_and_urls_name_the_same_databases(dsn, expected):
    """The reference's `Params.DSN` is a Perl DBI string; the manual's examples run as written."""
    from backends.connections import database_settings

    assert database_settings(dsn).items() >= expected.items()


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        (
            "DBI:odbc:yourdsn",
            "DBI:odbc names an ODBC data source, which Django cannot open; give the database's",
        ),
        ("DBI:Oracle:sid=x", "DBI driver 'oracle' is not supported"),
        ("DBI:Pg:host=db", "names no database (give dbname=…)"),
        ("DBI:Pg:dbname=crm;colour=blue", "unknown DSN key 'colour'"),
    ],
)
def test_a_dsn_that_cannot_be_opened_is_a_check_naming_it(dsn, message):
    config = external_config(ExternalDatabase("postgresql", {"DSN": dsn}, None))
    [problem] = validate_source_config("CustomerUser2", config)
    assert problem.check_id == "backends.E032"
    assert problem.message.startswith(f"{dsn!r} is not a database URL or DBI DSN: {message}")


OTRS3_TABLE = """
CREATE TABLE customer_user (
    id integer NOT NULL PRIMARY KEY, login varchar(200) NOT NULL, email varchar(150) NOT NULL,
    customer_id varchar(150) NOT NULL, pw varchar({size}), title varchar(50), first_name varchar(100) NOT NULL,
    last_name varchar(100) NOT NULL, valid_id smallint NOT NULL
)
"""


def otrs3_config(database, size, external_table):
    """OTRS 3's own `customer_user` table in another database: `pw VARCHAR(64)` (there is no sequence
    in the test table, so `id` is not in the Map; the reference's table has one)."""
    with external_table.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS customer_user")
        cursor.execute(OTRS3_TABLE.format(size=size))
        cursor.execute(
            "INSERT INTO customer_user VALUES (1, 'otrs.anna', 'anna@otrs.example', 'OTRS', %s, '', 'Anna',"
            " 'Alt', 1)",
            [hashlib.sha1(b"Sommer-2012").hexdigest()],
        )
    return {
        "Name": "OTRS 3 customers", "Module": "DB", "Params": {**database.params, "Table": "customer_user"},
        "CustomerKey": "login", "CustomerID": "customer_id", "CustomerValid": "valid_id",
        "CustomerCompanySupport": 0, "CacheTTL": 0,
        "CustomerUserListFields": ["first_name", "last_name", "email"],
        "CustomerUserSearchFields": ["login", "last_name", "customer_id"],
        "CustomerUserNameFields": ["title", "first_name", "last_name"],
        "Map": [
            ["UserTitle", "Title", "title", 1, 0, "var"], ["UserFirstname", "Firstname", "first_name", 1, 1, "var"],
            ["UserLastname", "Lastname", "last_name", 1, 1, "var"], ["UserLogin", "Username", "login", 1, 1, "var"],
            ["UserPassword", "Password", "pw", 0, 0, "var"], ["UserEmail", "Email", "email", 1, 1, "var"],
            ["UserCustomerID", "CustomerID", "customer_id", 0, 1, "var"], ["ValidID", "Valid", "valid_id", 0, 1, "int"],
        ],
    }  # fmt: skip


def stored_hash(external_table, login):
    with external_table.cursor() as cursor:
        cursor.execute("SELECT pw FROM customer_user WHERE login = %s", [login])
        return cursor.fetchone()[0]


@pytest.fixture
def production_hashers(settings):
    """The shipped hashers (PBKDF2 first): the suite's fast MD5 hash would fit any column."""
    settings.PASSWORD_HASHERS = [h for h in settings.PASSWORD_HASHERS if not h.endswith("MD5PasswordHasher")]


@pytest.mark.usefixtures("production_hashers")
def test_an_otrs3_password_column_keeps_what_fits(external_table, external_db):
    """Measured: with `pw VARCHAR(64)` a correct login with a reference SHA-1 hash was a 500 (Django's
    hash has 88 characters). A verified legacy hash is now replaced by bcrypt's 60-character form, which
    fits; a new user's password is stored the same way, and both log in."""
    from backends.hashers import as_django_encoded

    otrs = source(otrs3_config(external_db, 64, external_table))
    assert otrs.check_password("OTRS.ANNA", "Sommer-2012") is True
    upgraded = stored_hash(external_table, "otrs.anna")
    assert upgraded.startswith("$2b$")
    assert len(upgraded) == 60
    assert as_django_encoded(upgraded).startswith("bcrypt$")
    assert otrs.check_password("otrs.anna", "Sommer-2012") is True
    assert stored_hash(external_table, "otrs.anna") == upgraded  # nothing better fits: not rewritten
    assert otrs.check_password("otrs.anna", "Winter-2012") is False

    with external_table.cursor() as cursor:  # the next id, as the reference's sequence would give it
        cursor.execute("ALTER TABLE customer_user ALTER COLUMN id SET DEFAULT 2" if external_db.vendor ==
                       "postgresql" else "ALTER TABLE customer_user MODIFY id integer NOT NULL DEFAULT 2")  # fmt: skip
    otrs.add({"UserLogin": "otrs.bert", "UserFirstname": "Bert", "UserLastname": "Neu", "UserEmail": "b@otrs.example",
              "UserCustomerID": "OTRS"}, acting_user=None, password="Herbst-2026!")  # fmt: skip
    assert len(stored_hash(external_table, "otrs.bert")) == 60
    assert otrs.check_password("otrs.bert", "Herbst-2026!") is True


@pytest.mark.usefixtures("production_hashers")
def test_a_password_that_fits_nowhere_leaves_nothing_in_any_database(
    external_table, external_db, acting_user
):
    """Measured: adding a user with a password was a 500 that left the row committed without a password
    (the row and the hash were two writes, only the app's database in the transaction). Now the hash is
    part of the row's insert, and a column no hash fits refuses the add before anything is written."""
    from customers.services import create_customer_user

    config = otrs3_config(external_db, 40, external_table)  # a SHA-1 hash fits; no salted hash does
    registry = SourceHandler({"CustomerUser": config})
    before = stored_hash(external_table, "otrs.anna")
    with pytest.raises(CustomerUserInvalid) as caught:
        create_customer_user(
            attributes={"UserLogin": "otrs.carl", "UserFirstname": "Carl", "UserLastname": "Neu",
                        "UserEmail": "c@otrs.example", "UserCustomerID": "OTRS", "UserPassword": "Herbst-2026!"},
            acting_user=acting_user, registry=registry,
        )  # fmt: skip
    assert caught.value.field_errors == {
        "UserPassword": ["No password hash fits the 40-character password column of this source (widen the "
                         "column to at least 128)."]
    }  # fmt: skip
    with external_table.cursor() as cursor:
        cursor.execute("SELECT login FROM customer_user ORDER BY login")
        assert cursor.fetchall() in ([("otrs.anna",)], (("otrs.anna",),))
    assert registry["CustomerUser"].check_password("otrs.anna", "Sommer-2012") is True
    assert stored_hash(external_table, "otrs.anna") == before  # the legacy hash stays where nothing fits


def test_a_number_login_column_typed_int_in_the_map_is_read_searched_and_looked_up(
    external_table, external_db, settings, django_user_model
):
    """Issue 32, point 15 (R12, R46): with `UserLogin` typed `int` the source works; an unknown or a
    non-number login is "not found", never a 503."""
    from rest_framework.test import APIClient

    with external_table.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS numbered")
        cursor.execute("CREATE TABLE numbered (id integer PRIMARY KEY, given varchar(60), family varchar(60),"
                       " mail varchar(120), company varchar(40), active smallint)")  # fmt: skip
        cursor.execute("INSERT INTO numbered VALUES (7, 'Nu', 'Mber', 'n@example.com', 'X', 1),"
                       " (12, 'Twelve', 'Dozen', 't@example.com', 'X', 1)")  # fmt: skip
    config = external_config(
        external_db, CustomerKey="id", CustomerUserSearchFields=["id", "given", "family"]
    )
    config["Params"] = {**external_db.params, "Table": "numbered"}
    config["Map"] = [row for row in config["Map"] if row[0] not in ("UserPassword", "UserPhone")]
    config["Map"] = [["UserLogin", "Username", "id", 1, 1, "int"] if row[0] == "UserLogin" else row
                     for row in config["Map"]]  # fmt: skip
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": config}
    numbered = source(config)

    assert numbered.get("7").get("UserLastname") == "Mber"
    assert (numbered.get("8"), numbered.get("nobody")) == (None, None)
    assert sorted(numbered.get_many(["7", "12", "x"])) == ["12", "7"]
    assert [r.login for r in numbered.search(SearchQuery(term="nu*")).records] == ["7"]
    assert [r.login for r in numbered.search(SearchQuery(term="1*")).records] == ["12"]
    assert [r.login for r in numbered.search(SearchQuery(login="*")).records] == ["12", "7"]
    assert [r.login for r in numbered.search(SearchQuery(login="12")).records] == ["12"]
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_superuser("s", "s@example.com", "Pass-word-1"))
    assert client.get("/api/v1/customer-users/7/").status_code == 200
    assert client.get("/api/v1/customer-users/nobody/").status_code == 404
    assert client.get("/api/v1/customer-users/?search=nu*").json()["count"] == 1
