"""DB + LDAP + LDAP configured together (R20–R33): order, merging, conflicts, outages, timeouts, caching."""

import os
import signal
import time
from collections import Counter

import pytest

from backends.errors import SourceUnavailable
from customers.models import Customer, CustomerUser
from customers.selectors import (
    get_customer_name,
    get_customer_user,
    get_sources_status,
    list_customer_id_values,
    list_customer_ids,
    list_login_conflicts,
    search_customer_users,
)
from customers.services import create_customer_user, update_customer_user
from tests.ldap_server import PARTNERS_DN, DirectoryServer, person

pytestmark = [pytest.mark.django_db, pytest.mark.ldap]


@pytest.fixture
def three_sources(
    settings, db_source_settings, ldap_source_settings, customer_factory, customer_user_factory
):
    """CustomerUser: our table; CustomerUser1: ou=people; CustomerUser2: ou=partners."""
    settings.CUSTOMER_USER_BACKENDS = {
        "CustomerUser2": ldap_source_settings({"BaseDN": PARTNERS_DN}, Name="Partners"),
        "CustomerUser": db_source_settings(CacheTTL=0),
        "CustomerUser1": ldap_source_settings(Name="People"),
    }
    customer_factory(customer_id="LOCAL", name="Local Ltd")
    customer_user_factory(login="person0001", first_name="Local", last_name="Person", customer_id="LOCAL",
                          email="local.person@example.com")  # fmt: skip
    customer_user_factory(login="alice", first_name="Alice", last_name="Local", customer_id="LOCAL",
                          email="alice@example.com")  # fmt: skip


@pytest.fixture
def small_directory():
    """A directory of its own, which a test may stop or freeze."""
    server = DirectoryServer()
    server.start()
    server.load("\n".join(person(f"tiny{n}", "Tiny", f"Person{n}", customer_id="TINY") for n in range(3)))
    yield server
    if server._proc is not None:
        os.kill(server._proc.pid, signal.SIGCONT)
        server.stop()


@pytest.fixture
def db_and_small_directory(settings, db_source_settings, ldap_source_settings, small_directory,
                           customer_factory, customer_user_factory):  # fmt: skip
    settings.CUSTOMER_USER_BACKENDS = {
        "CustomerUser": db_source_settings(CacheTTL=0),
        "CustomerUser1": ldap_source_settings({"Host": small_directory.ldap_uri}, ReadOnly=0, Timeout=1),
    }
    customer_factory(customer_id="LOCAL", name="Local Ltd")
    customer_user_factory(login="tina", first_name="Tina", last_name="Person", customer_id="LOCAL",
                          email="tina@example.com")  # fmt: skip
    return small_directory


def test_sources_are_asked_in_order_and_the_first_wins(three_sources):
    """R10, R20, R21: CustomerUser beats CustomerUser1 beats CustomerUser2, whatever the config order."""
    assert get_customer_user("PERSON0001").source == "CustomerUser"
    assert get_customer_user("person0000").source == "CustomerUser1"
    assert get_customer_user("partner010").source == "CustomerUser2"
    page = search_customer_users(term="person000*", limit=100)
    by_login = {r.login: r.source for r in page.rows}
    assert by_login["person0001"] == "CustomerUser"
    assert by_login["person0000"] == "CustomerUser1"
    assert len(by_login) == len(page.rows)  # one row per login
    assert get_customer_name("person0001") == "Local Person"  # R22


def test_merged_search_says_which_sources_stopped_at_their_limit(three_sources):
    """R20 without W6: nothing is cut silently."""
    page = search_customer_users(term="p*")
    assert page.truncated_sources == ("CustomerUser1",)
    # R20: each source applies its own limit (250 each): the local person0001, People's first 250 (one of
    # them shadowed by the local one), and the partners that no earlier source holds (57 of 60).
    assert len(page.rows) == 1 + 249 + 57
    assert {r.source for r in page.rows} == {"CustomerUser", "CustomerUser1", "CustomerUser2"}
    assert dict(page.source_totals)["CustomerUser"] == 1  # the DB source counts its matches: cheap there


def test_each_source_applies_its_own_limit_not_the_smallest(settings, three_sources, ldap_source_settings):
    """Issue 32, point 14 (R20, R42): a source limited to 5 beside one limited to 10 returns up to 15."""
    settings.CUSTOMER_USER_BACKENDS = {
        **settings.CUSTOMER_USER_BACKENDS,
        "CustomerUser1": ldap_source_settings(Name="People", CustomerUserSearchListLimit=10),
        "CustomerUser2": ldap_source_settings(
            {"BaseDN": PARTNERS_DN}, Name="Partners", CustomerUserSearchListLimit=5
        ),
    }
    page = search_customer_users(term="p*")
    assert page.truncated_sources == ("CustomerUser1", "CustomerUser2")
    # 1 local; 10 people, one shadowed by the local one; 5 partners, two shadowed by people (R20)
    assert Counter(r.source for r in page.rows) == {"CustomerUser": 1, "CustomerUser1": 9, "CustomerUser2": 3}


def test_customer_id_list_and_customer_ids_span_the_sources(three_sources):
    """R23, R24."""
    values = list_customer_id_values()
    assert values[:3] == ["LDAP-00", "LDAP-01", "LDAP-02"]
    assert {"LOCAL", "PARTNER"} <= set(values)
    assert list_customer_ids("person0001") == ["LOCAL"]  # from the first source that knows the login
    assert list_customer_ids("person0000")[-1] == "LDAP-00"


def test_conflicts_list_every_login_known_to_more_than_one_source(three_sources):
    conflicts, unlisted = list_login_conflicts()
    assert [(c.login, c.sources) for c in conflicts] == [
        ("person0000", ("CustomerUser1", "CustomerUser2")),
        ("person0001", ("CustomerUser", "CustomerUser1", "CustomerUser2")),
        ("person0002", ("CustomerUser1", "CustomerUser2")),
    ]
    assert unlisted == ()
    status = get_sources_status()
    assert [(s.alias, s.reachable) for s in status.sources] == [
        ("CustomerUser", True), ("CustomerUser1", True), ("CustomerUser2", True),
    ]  # fmt: skip
    assert [s.count for s in status.sources] == [2, 2100, 60]
    assert status.conflicts == tuple(conflicts)


def test_a_stopped_directory_leaves_the_other_sources_working(db_and_small_directory):
    """Stop slapd mid-test: searches warn per source; data get says unavailable; nothing is half-written."""
    assert {r.login for r in search_customer_users(term="t*").rows} == {"tina", "tiny0", "tiny1", "tiny2"}
    db_and_small_directory.stop()

    page = search_customer_users(term="t*")
    assert [r.login for r in page.rows] == ["tina"]
    assert [w.alias for w in page.warnings] == ["CustomerUser1"]
    assert "Can't contact LDAP server" in page.warnings[0].message
    assert get_customer_user("tina").login == "tina"
    with pytest.raises(SourceUnavailable, match="Source CustomerUser1 is unavailable"):
        get_customer_user("tiny0")  # not "no such user"
    Customer.objects.create(customer_id="TINY", name="Tiny")  # the customer must exist for any source (R148)
    with pytest.raises(SourceUnavailable):
        create_customer_user(attributes={"UserLogin": "tiny9", "UserFirstname": "T", "UserLastname": "N",
                                         "UserEmail": "t9@example.org", "UserCustomerID": "TINY"},
                             acting_user=None, source="CustomerUser1")  # fmt: skip
    assert not CustomerUser.objects.filter(login="tiny9").exists()
    status = get_sources_status()
    assert [(s.alias, s.reachable) for s in status.sources] == [
        ("CustomerUser", True),
        ("CustomerUser1", False),
    ]
    assert status.unlisted_sources == ("CustomerUser1",)


def test_a_frozen_directory_costs_its_timeout_not_more(
    db_and_small_directory, settings, ldap_source_settings
):
    """Sources are asked concurrently, each within its Timeout: two frozen directories cost one timeout."""
    second = DirectoryServer()
    second.start()
    try:
        settings.CUSTOMER_USER_BACKENDS = {
            **settings.CUSTOMER_USER_BACKENDS,
            "CustomerUser2": ldap_source_settings({"Host": second.ldap_uri}, Timeout=1),
        }
        for server in (db_and_small_directory, second):
            os.kill(server._proc.pid, signal.SIGSTOP)
        started = time.monotonic()
        page = search_customer_users(term="t*")
        elapsed = time.monotonic() - started
        assert [r.login for r in page.rows] == ["tina"]
        assert [(w.alias, w.message) for w in page.warnings] == [
            ("CustomerUser1", "Source CustomerUser1 is unavailable (search): no answer within 1 s"),
            ("CustomerUser2", "Source CustomerUser2 is unavailable (search): no answer within 1 s"),
        ]
        assert elapsed < 1.8  # one timeout, not two in a row
    finally:
        os.kill(second._proc.pid, signal.SIGCONT)
        second.stop()


def test_a_wrong_service_password_is_a_warning_not_an_error(settings, db_source_settings, ldap_source_settings,
                                                            customer_user_factory):  # fmt: skip
    settings.CUSTOMER_USER_BACKENDS = {
        "CustomerUser": db_source_settings(CacheTTL=0),
        "CustomerUser1": ldap_source_settings({"UserPw": "wrong"}),
    }
    customer_user_factory(login="person-local", email="pl@example.com")
    page = search_customer_users(term="person*")
    assert [r.login for r in page.rows] == ["person-local"]
    assert "Invalid credentials" in page.warnings[0].message


def test_cache_ttl_caches_reads_and_an_app_write_forgets_them(settings, db_source_settings, ldap_source_settings,
                                                              slapd, acting_user):  # fmt: skip
    settings.CUSTOMER_USER_BACKENDS = {
        "CustomerUser": db_source_settings(),  # CacheTTL 86400, as the reference ships it
        "CustomerUser1": ldap_source_settings(CacheTTL=60, ReadOnly=0),
    }
    dn = "uid=person0005,ou=people,dc=example,dc=org"
    assert get_customer_user("person0005").get("UserComment") == ""
    slapd.ldapmodify(f"dn: {dn}\nchangetype: modify\nreplace: description\ndescription: changed outside\n")
    try:
        assert get_customer_user("person0005").get("UserComment") == ""  # cached
        record = get_customer_user("person0005")
        update_customer_user(
            login="person0005", changes={"UserComment": "changed in the app"}, acting_user=acting_user
        )
        assert record.get("UserComment") == ""
        assert get_customer_user("person0005").get("UserComment") == "changed in the app"
    finally:
        slapd.ldapmodify(f"dn: {dn}\nchangetype: modify\ndelete: description\n")

    assert search_customer_users(term="newcomer").rows == []
    CustomerUser.objects.create(login="newcomer", first_name="New", last_name="Comer", email="n@example.com")
    assert [r.login for r in search_customer_users(term="newcomer").rows] == [
        "newcomer"
    ]  # the save forgot it


def test_health_says_which_source_and_what_state_never_its_uri(
    settings, db_source_settings, ldap_source_settings, client
):
    """Issue 33, point 10: /health/ needs no login, so it names the source and a state in words only."""
    from tests.stack import free_port

    down = f"ldap://127.0.0.1:{free_port()}"
    settings.CUSTOMER_USER_BACKENDS = {
        "CustomerUser": db_source_settings(CacheTTL=0),
        "CustomerUser1": ldap_source_settings({"Host": down}, Name="People", Timeout=1),
    }
    health = client.get("/health/")
    assert [(s["alias"], s["reachable"], s.get("state")) for s in health.json()["sources"]] == [
        ("CustomerUser", True, None),
        ("CustomerUser1", False, "unreachable"),
    ]
    assert "127.0.0.1" not in health.content.decode()
