"""import_from_znuny against a second, real PostgreSQL database laid out like Znuny's."""

import os

import psycopg2
import pytest
from django.core.management import CommandError, call_command

from customers.authentication import authenticate_customer_user
from customers.models import (
    Customer,
    CustomerGroup,
    CustomerUser,
    CustomerUserCustomer,
    CustomerUserGroup,
    CustomerUserPreference,
    CustomerUserService,
    DefaultService,
)

pytestmark = [pytest.mark.django_db]

SCHEMA = """
CREATE TABLE customer_company (customer_id varchar(150) PRIMARY KEY, name varchar(200) NOT NULL, street varchar(200),
  zip varchar(200), city varchar(200), country varchar(200), url varchar(200), comments varchar(250),
  valid_id smallint NOT NULL);
CREATE TABLE customer_user (id serial PRIMARY KEY, login varchar(200) NOT NULL, email varchar(150) NOT NULL,
  customer_id varchar(150) NOT NULL, pw varchar(128), title varchar(50), first_name varchar(100) NOT NULL,
  last_name varchar(100) NOT NULL, phone varchar(150), fax varchar(150), mobile varchar(150), street varchar(150),
  zip varchar(200), city varchar(200), country varchar(200), comments varchar(250), valid_id smallint NOT NULL);
CREATE TABLE customer_preferences (user_id varchar(250) NOT NULL, preferences_key varchar(150) NOT NULL,
  preferences_value varchar(250));
CREATE TABLE customer_user_customer (user_id varchar(100) NOT NULL, customer_id varchar(150) NOT NULL);
CREATE TABLE permission_groups (id serial PRIMARY KEY, name varchar(200) NOT NULL, comments varchar(250),
  valid_id smallint NOT NULL);
CREATE TABLE group_customer_user (user_id varchar(100) NOT NULL, group_id integer NOT NULL,
  permission_key varchar(20) NOT NULL, permission_value smallint NOT NULL);
CREATE TABLE group_customer (customer_id varchar(150) NOT NULL, group_id integer NOT NULL,
  permission_key varchar(20) NOT NULL, permission_value smallint NOT NULL, permission_context varchar(100) NOT NULL);
CREATE TABLE service (id serial PRIMARY KEY, name varchar(200) NOT NULL, comments varchar(250), valid_id smallint NOT NULL);
CREATE TABLE service_customer_user (customer_user_login varchar(200) NOT NULL, service_id integer NOT NULL);

INSERT INTO customer_company VALUES ('ACME', 'Acme Corp', 'Main St 1', '10115', 'Berlin', 'Germany', '', '', 1),
  ('OLD', 'Old Ltd', '', '', 'Leeds', 'UK', '', '', 2);
INSERT INTO customer_user (login, email, customer_id, pw, first_name, last_name, valid_id) VALUES
  ('jdoe', 'jdoe@acme.example', 'ACME', '2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b', 'John', 'Doe', 1),
  ('mmüller', 'mm@acme.example', 'ACME', 'BCRYPT:4:abcdefghijklmnop:V/MhsBGVkvl.skVEhBTiEdihFBnDQOa', 'Maria', 'Müller', 1);
INSERT INTO customer_preferences VALUES ('jdoe', 'UserLanguage', 'de'), ('jdoe', 'UserLogin', 'evil'),
  ('ghost', 'UserLanguage', 'fr');
INSERT INTO customer_user_customer VALUES ('jdoe', 'OLD'), ('jdoe', 'NOPE');
INSERT INTO permission_groups (name, comments, valid_id) VALUES ('users', '', 1), ('support', 'Support', 1);
INSERT INTO group_customer_user VALUES ('jdoe', 2, 'rw', 1), ('jdoe', 2, 'ro', 0), ('JDOE', 1, 'ro', 1);
INSERT INTO group_customer VALUES ('ACME', 2, 'ro', 1, 'Ticket::CustomerID::Same');
INSERT INTO service (name, comments, valid_id) VALUES ('IT', '', 1), ('IT::VPN', '', 1);
INSERT INTO service_customer_user VALUES ('jdoe', 2), ('<DEFAULT>', 1);
"""


@pytest.fixture
def znuny_dsn(settings, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    base = os.environ.get("HELPDESK_PG_URL")
    if not base:
        pytest.skip("needs the throwaway PostgreSQL cluster (make test-postgresql)")
    admin = psycopg2.connect(f"{base}/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS znuny WITH (FORCE)")
        cursor.execute("CREATE DATABASE znuny")
    with psycopg2.connect(f"{base}/znuny") as connection, connection.cursor() as cursor:
        cursor.execute(SCHEMA)
    yield f"{base}/znuny"
    with admin.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS znuny WITH (FORCE)")
    admin.close()


def snapshot():
    return {
        "customers": sorted(Customer.objects.values_list("customer_id", "city", "validity")),
        "users": sorted(CustomerUser.objects.values_list("login", "customer_id", "last_name")),
        "prefs": sorted(CustomerUserPreference.objects.values_list("login", "key", "value")),
        "extra": sorted(CustomerUserCustomer.objects.values_list("login", "customer_id")),
        "groups": sorted(CustomerUserGroup.objects.values_list("login", "group__name", "permission")),
        "customer_groups": sorted(
            CustomerGroup.objects.values_list("customer_id", "group__name", "permission")
        ),
        "services": sorted(CustomerUserService.objects.values_list("login", "service__name")),
        "defaults": sorted(DefaultService.objects.values_list("service__name", flat=True)),
    }


def test_copies_everything_once_and_the_old_passwords_work(znuny_dsn):
    call_command("import_from_znuny", "--dsn", znuny_dsn, verbosity=0)
    first = snapshot()
    assert first == {
        "customers": [("ACME", "Berlin", 1), ("OLD", "Leeds", 2)],
        "users": [("jdoe", "ACME", "Doe"), ("mmüller", "ACME", "Müller")],
        "prefs": [("jdoe", "UserLanguage", "de")],  # reserved keys (R136) and unknown logins are left out
        "extra": [("jdoe", "OLD")],
        "groups": [("jdoe", "support", "rw"), ("jdoe", "users", "ro")],
        "customer_groups": [("ACME", "support", "ro")],
        "services": [("jdoe", "IT::VPN")],
        "defaults": ["IT"],
    }
    call_command("import_from_znuny", "--dsn", znuny_dsn, verbosity=0)
    assert snapshot() == first  # idempotent
    assert authenticate_customer_user("jdoe", "secret").ok  # unsalted SHA-256 from the reference
    assert authenticate_customer_user("mmüller", "secret").ok  # the reference's bcrypt layout


def test_a_database_that_is_not_a_reference_one_is_refused(znuny_dsn):
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_from_znuny", "--dsn", znuny_dsn.rsplit("/", 1)[0] + "/postgres", verbosity=0)
    assert not Customer.objects.exists()
