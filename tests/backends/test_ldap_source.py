"""The LDAP source against the session's real slapd (R70–R80): search, paging, escaping, writes, binds."""

import contextlib

import ldap
import pytest

from backends.base import SearchQuery
from backends.config import validate_source_config
from backends.errors import CustomerUserInvalid, SourceReadOnly, SourceUnavailable
from backends.registry import SourceHandler
from customers.selectors import customer_ids_of
from tests.ldap_server import (
    ANONYMOUS_TOTAL,
    CUSTOMER_IDS,
    PARTNERS_DN,
    PASSWORD,
    PEOPLE,
    PEOPLE_DN,
    SERVICE_DN,
    SERVICE_PW,
    SIZE_LIMIT,
    people,
)

pytestmark = [pytest.mark.ldap]

PEOPLE_ROWS = [row for row in people() if row["ou"].startswith("ou=people")]
ACTIVE = [row for row in PEOPLE_ROWS if not row["disabled"]]


def source(config):
    return SourceHandler({"CustomerUser1": config})["CustomerUser1"]


@pytest.fixture
def directory(ldap_source_settings):
    return source(ldap_source_settings())


def logins(result):
    return [record.login for record in result.records]


def test_a_search_matches_any_search_field_case_insensitively_with_utf8(directory):
    """R72 with the directory's matching rules: `müller` finds Müller; first values; valid filter (R76)."""
    expected = sorted(
        r["uid"] for r in ACTIVE if r["last"].startswith("Müller") or r["first"].startswith("Müller")
    )
    for term in ("Müller", "müller", "MÜLLER"):
        result = directory.search(SearchQuery(term=term, limit=1000))
        assert logins(result) == expected
        assert not result.has_more
    record = directory.search(SearchQuery(term="Müller")).records[0]
    assert record.full_name.endswith("Müller")
    assert record.display.endswith("@example.org>")


def test_the_r43_grammar_combines_terms(directory):
    both = directory.search(SearchQuery(term="person01* + Петров", limit=1000))
    assert logins(both) == sorted(
        r["uid"] for r in ACTIVE if r["uid"].startswith("person01") and r["last"] == "Петров"
    )
    either = directory.search(SearchQuery(term="person0001 OR person0002", limit=1000))
    assert logins(either) == ["person0001", "person0002"]
    negated = directory.search(SearchQuery(term="person000* + !person0001", limit=1000))
    assert "person0001" not in logins(negated)
    assert "person0002" in logins(negated)


def test_paged_results_go_past_the_server_size_limit(directory, slapd):
    """W6/R77: the directory holds more than its size limit; listing and counting still see everything."""
    plain = ldap.initialize(slapd.ldap_uri)
    with pytest.raises(ldap.SIZELIMIT_EXCEEDED):
        plain.search_s(directory.base_dn, ldap.SCOPE_ONELEVEL, "(uid=*)", ["uid"])
    assert PEOPLE > SIZE_LIMIT
    assert directory.count() == (PEOPLE, True)
    everyone = directory.search(SearchQuery(term="*", limit=PEOPLE))
    assert logins(everyone) == sorted(r["uid"] for r in ACTIVE)
    assert not everyone.has_more


def test_a_count_the_server_cut_says_at_least(ldap_source_settings, settings, django_user_model):
    """W6: measured, the sources page said 500 for a 3,005-entry directory read anonymously (its size
    limit) and nothing said the count was cut. Counts page past the size limit; where the server caps
    even paged results (here: anonymous readers, 1,000 entries), the count says it is a lower bound."""
    from rest_framework.test import APIClient

    anonymous = ldap_source_settings({"UserDN": "", "UserPw": ""})
    assert source(anonymous).count() == (ANONYMOUS_TOTAL, False)
    status = source(anonymous).status()
    assert (status.count, status.count_complete) == (ANONYMOUS_TOTAL, False)
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser1": anonymous, "CustomerUser2": ldap_source_settings()}
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_superuser("s", "s@example.com", "Pass-word-1"))
    counts = {
        s["alias"]: (s["count"], s["count_complete"])
        for s in client.get("/api/v1/sources/").json()["sources"]
    }
    assert counts == {"CustomerUser1": (ANONYMOUS_TOTAL, False), "CustomerUser2": (PEOPLE, True)}
    client.force_login(django_user_model.objects.get(username="s"))
    page = client.get("/admin/sources/")
    assert f"at least {ANONYMOUS_TOTAL:,}" in page.content.decode()  # grouped as English writes it


def test_searches_stop_at_the_list_limit_and_say_so(directory):
    result = directory.search(SearchQuery(term="person*"))
    assert len(result.records) == 250  # CustomerUserSearchListLimit
    assert result.has_more


@pytest.mark.parametrize(
    ("selector", "value"),
    [
        ("term", "*)(uid=*"),
        ("term", "admin)(|(objectClass=*"),
        ("login", "*)(uid=*"),
        ("login", "admin)(|(objectClass=*"),
        ("postmaster", "*)(mail=*"),
        ("customer_id", "*)(departmentNumber=*"),
        ("customer_id_raw", "LDAP-01)(|(objectClass=*"),
    ],
)
def test_user_values_are_escaped_so_injection_finds_nothing(directory, selector, value):
    """RFC 4515 escaping (W4): these return what a literal search does: no entry contains `)(`."""
    assert directory.search(SearchQuery(**{selector: value})).records == []


@pytest.mark.django_db  # django-ldapdb writes through a Django connection
def test_a_login_with_filter_characters_is_found_literally(directory, ldap_source_settings, slapd):
    writable = source(ldap_source_settings(ReadOnly=0))
    writable.add({"UserLogin": "o'hara(x)*", "UserFirstname": "Seán", "UserLastname": "O'Hara",
                  "UserEmail": "ohara@example.org", "UserCustomerID": "LDAP-01"}, acting_user=None)  # fmt: skip
    try:
        assert directory.get("o'hara(x)*").login == "o'hara(x)*"
        assert logins(directory.search(SearchQuery(login="o'hara(x)*"))) == ["o'hara(x)*"]
        assert directory.get("o'hara(x)") is None
    finally:
        slapd.ldapdelete(f"uid=o'hara(x)\\2A,{directory.base_dn}")


def test_login_postmaster_and_customer_id_selectors(directory):
    """R73: login and raw customer ID are exact; postmaster keeps `*` as a wildcard; W2: no substrings."""
    assert logins(directory.search(SearchQuery(login="PERSON0007"))) == ["person0007"]
    assert logins(directory.search(SearchQuery(login="person000"))) == []
    assert logins(directory.search(SearchQuery(postmaster="person0007@example.org"))) == ["person0007"]
    assert logins(directory.search(SearchQuery(postmaster="*0007@example.org"))) == ["person0007"]
    raw = directory.search(SearchQuery(customer_id_raw="LDAP-03", limit=1000))
    assert logins(raw) == sorted(r["uid"] for r in ACTIVE if r["customer_id"] == "LDAP-03")
    assert directory.search(SearchQuery(customer_id_raw="LDAP-0", limit=1000)).records == []
    assert len(directory.search(SearchQuery(customer_id="LDAP-0*", limit=3000)).records) == len(
        [r for r in ACTIVE if r["customer_id"].startswith("LDAP-0")]
    )


def test_data_get_ignores_the_valid_filter_but_not_the_always_filter(ldap_source_settings):
    """R74, R76."""
    disabled = next(r for r in PEOPLE_ROWS if r["disabled"])["uid"]
    assert source(ldap_source_settings()).get(disabled).login == disabled
    assert source(ldap_source_settings()).search(SearchQuery(login=disabled)).records == []
    strict = source(ldap_source_settings({"AlwaysFilter": "(employeeType=active)"}))
    assert strict.get(disabled) is None
    assert strict.get("person0001").login == "person0001"


@pytest.mark.django_db
def test_multi_valued_customer_ids_and_first_values(directory):
    """R61/R78: UserCustomerIDs takes every value, single-valued fields the first."""
    row = PEOPLE_ROWS[0]
    record = directory.get(row["uid"])
    assert record.get("UserCustomerIDs") == ";".join(row["extra_customer_ids"])
    assert customer_ids_of(record, registry=SourceHandler({"CustomerUser1": directory.config.raw})) == list(
        dict.fromkeys([*row["extra_customer_ids"], row["customer_id"]])
    )


def test_customer_id_list(directory):
    """R62/R76: distinct primary ids, sorted; a term filters them."""
    assert directory.list_customer_id_values(None) == CUSTOMER_IDS
    assert directory.list_customer_id_values("LDAP-1*") == [c for c in CUSTOMER_IDS if c.startswith("LDAP-1")]


def test_a_second_base_is_a_second_source(ldap_source_settings):
    partners = source(ldap_source_settings({"BaseDN": PARTNERS_DN}))
    assert partners.count() == (60, True)
    assert {r.customer_id for r in partners.search(SearchQuery(term="*", limit=100)).records} == {"PARTNER"}


def test_read_only_source_refuses_writes_with_a_clear_message(directory):
    """R70: LDAP is read-only by default."""
    with pytest.raises(
        SourceReadOnly, match="Source CustomerUser1 is read-only; customer user 'new' was not"
    ):
        directory.add({"UserLogin": "new"}, acting_user=None)
    with pytest.raises(SourceReadOnly):
        directory.set_password("person0001", "x")


@pytest.mark.django_db
def test_a_writable_source_adds_updates_renames_and_sets_passwords(ldap_source_settings, slapd):
    """Beyond R70: writes through the django-ldapdb model built from the Map."""
    writable = source(ldap_source_settings(ReadOnly=0))
    values = {"UserLogin": "new.user", "UserFirstname": "Ærøn", "UserLastname": "Ødegård",
              "UserEmail": "new.user@example.org", "UserCustomerID": "LDAP-02",
              "UserCustomerIDs": "LDAP-05;LDAP-06"}  # fmt: skip
    record = writable.add(values, acting_user=None)
    try:
        assert (record.full_name, record.get("UserCustomerIDs")) == ("Ærøn Ødegård", "LDAP-05;LDAP-06")
        with pytest.raises(CustomerUserInvalid, match="already exists"):
            writable.add(values, acting_user=None)
        with pytest.raises(CustomerUserInvalid) as caught:
            writable.add({"UserLogin": "incomplete"}, acting_user=None)
        assert set(caught.value.field_errors) == {
            "UserFirstname",
            "UserLastname",
            "UserEmail",
            "UserCustomerID",
        }

        updated = writable.update("new.user", {**values, "UserLogin": "renamed.user", "UserCustomerIDs": "LDAP-07",
                                               "UserPhone": "+1 555"}, acting_user=None)  # fmt: skip
        assert (updated.login, updated.get("UserCustomerIDs"), updated.get("UserPhone")) == (
            "renamed.user", "LDAP-07", "+1 555",
        )  # fmt: skip
        assert writable.get("new.user") is None
        writable.set_password("renamed.user", "Fresh pass 1")
        assert writable.check_password("renamed.user", "Fresh pass 1") is True
        assert writable.check_password("renamed.user", "wrong") is False
    finally:
        for uid in ("new.user", "renamed.user"):
            with contextlib.suppress(RuntimeError):
                slapd.ldapdelete(f"uid={uid},{writable.base_dn}")


def test_password_check_binds_as_the_user(directory):
    """R91: find the DN by login, then bind; unknown login is None, a wrong or empty password False."""
    assert directory.check_password("person0003", PASSWORD) is True
    assert directory.check_password("person0003", "nope") is False
    assert directory.check_password("person0003", "") is False
    assert directory.check_password("nobody-here", PASSWORD) is None


def test_fail_over_anonymous_bind_and_starttls(ldap_source_settings, slapd):
    """R71: a list of hosts is tried in order; no UserDN binds anonymously; StartTLS with a CA file."""
    dead = "ldap://127.0.0.1:9"
    failing_over = source(ldap_source_settings({"Host": [dead, slapd.ldap_uri]}))
    assert failing_over.get("person0001").login == "person0001"
    anonymous = source(ldap_source_settings({"UserDN": "", "UserPw": ""}))
    assert anonymous.get("person0001").login == "person0001"
    tls = source(ldap_source_settings({"StartTLS": 1, "CAFile": slapd.cafile}))  # the cert names 127.0.0.1
    assert tls.get("person0001").login == "person0001"


def test_an_unreachable_or_misconfigured_directory_is_unavailable_not_empty(ldap_source_settings):
    down = source(ldap_source_settings({"Host": "ldap://127.0.0.1:9"}))
    with pytest.raises(
        SourceUnavailable, match=r"Source CustomerUser1 is unavailable \(search\): Can't contact"
    ):
        down.search(SearchQuery(term="x"))
    wrong = source(ldap_source_settings({"UserPw": "wrong"}))
    with pytest.raises(SourceUnavailable, match="Invalid credentials"):
        wrong.get("person0001")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"Host": ""}, "['Params']['Host']: missing"),
        ({"Host": "http://x"}, "is not an ldap://, ldaps:// or ldapi:// URI"),
        ({"BaseDN": "not a dn"}, "['Params']['BaseDN']: 'not a dn' is not a distinguished name"),
        ({"SSCOPE": "base"}, "must be 'one' or 'sub'"),
        ({"UserPw": ""}, "UserDN and UserPw go together"),
        ({"AlwaysFilter": "(&(objectClass=*)"}, "has unbalanced parentheses"),
        ({"AlwaysFilter": "objectClass=*"}, "must be enclosed in parentheses"),
        ({"Params": {"timeout": "soon"}}, "['Params']['Params']['timeout']: must be a number"),
        ({"CAFile": "/nonexistent/ca.pem"}, "is not a readable file"),
    ],
)
def test_configuration_problems_name_the_key(ldap_source_settings, params, message):
    problems = validate_source_config("CustomerUser1", ldap_source_settings(params))
    assert any(message in f"{p.path}: {p.message}" for p in problems), problems


def test_group_dn_keeps_only_members(ldap_source_settings, slapd):
    """R75, with the member check escaped (W4)."""
    groups = "ou=groups,dc=example,dc=org"
    slapd.ldapadd(
        f"dn: {groups}\nobjectClass: organizationalUnit\nou: groups\n\n"
        f"dn: cn=helpdesk-customers,{groups}\nobjectClass: posixGroup\ncn: helpdesk-customers\ngidNumber: 5000\n"
        "memberUid: person0001\nmemberUid: person0003\nmemberUid: *\n"
    )
    try:
        members_only = source(ldap_source_settings({"GroupDN": groups}))
        assert logins(members_only.search(SearchQuery(term="person000*", limit=100))) == [
            "person0001",
            "person0003",
        ]
    finally:
        slapd.ldapdelete(f"cn=helpdesk-customers,{groups}")
        slapd.ldapdelete(groups)


def test_manager_dn_is_translated_and_exchange_addresses_lose_smtp(ldap_source_settings, slapd):
    """R78: TranslateManagerTo replaces a manager DN by an attribute of that entry."""
    dn = f"uid=person0010,{ldap_source_settings()['Params']['BaseDN']}"
    slapd.ldapmodify(
        f"dn: {dn}\nchangetype: modify\nadd: manager\nmanager: uid=person0011,ou=people,dc=example,dc=org\n"
    )
    try:
        config = ldap_source_settings(TranslateManagerTo="mail")
        config["Map"] = [*config["Map"], ["UserManager", "Manager", "manager", 1, 0, "var"]]
        assert source(config).get("person0010").get("UserManager") == "person0011@example.org"
    finally:
        slapd.ldapmodify(f"dn: {dn}\nchangetype: modify\ndelete: manager\n")


def test_random_passwords_use_the_ldap_alphabet(directory):
    """R80."""
    password = directory.generate_random_password(40)
    assert len(password) == 40
    assert set(password) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!@#$%^&*")


def test_exchange_target_addresses_lose_their_smtp_prefix(directory):
    """R78: a `targetaddress` value `SMTP:x@y` is read as `x@y`; other attributes keep their text."""
    entry = {"targetAddress": [b"SMTP:anna@example.org"], "mail": [b"SMTP:literal@example.org"]}
    assert directory._first(entry, "targetaddress") == "anna@example.org"
    assert directory._first(entry, "mail") == "SMTP:literal@example.org"


def test_the_manuals_ldap_example_runs_as_written(ldap_source_settings):
    """The reference's LDAP example lists `cn` without a Map row for it, and writes attribute names in
    lower case (`givenname`, `telephonenumber`). Measured: `backends.E025 'cn' is not a storage name of the
    Map`. RFC 4512: attribute names are case-blind; list and search fields are the entry's attributes."""
    config = ldap_source_settings(
        CustomerUserListFields=["cn", "mail"],
        CustomerUserSearchFields=["uid", "cn", "mail"],
        CustomerUserNameFields=["givenname", "sn"],
        Map=[
            ["UserFirstname", "Firstname", "givenname", 1, 1, "var"],
            ["UserLastname", "Lastname", "sn", 1, 1, "var"],
            ["UserLogin", "Username", "uid", 1, 1, "var"],
            ["UserEmail", "Email", "mail", 1, 1, "var"],
            ["UserCustomerID", "CustomerID", "departmentNumber", 0, 1, "var"],
            ["UserPhone", "Phone", "telephonenumber", 1, 0, "var"],
        ],
    )
    assert [p.message for p in validate_source_config("CustomerUser1", config)] == []
    directory = source(config)
    row = ACTIVE[0]
    record = directory.get(row["uid"])
    assert record["UserFirstname"] == row["first"]  # `givenname` reads `givenName`
    assert record.full_name == f"{row['first']} {row['last']}"
    assert (
        record.display == f'"{row["first"]} {row["last"]}" <{row["uid"]}@example.org>'
    )  # `cn`, then the e-mail
    found = directory.search(SearchQuery(term=f"{row['first']} {row['last']}", limit=10))  # by `cn`
    assert row["uid"] in logins(found)


def test_a_writable_directory_keeps_the_maps_rules_and_the_customer_check(
    ldap_source_settings, slapd, settings, acting_user, customer_factory
):
    """Measured: the LDAP source checked only required attributes; an invalid e-mail address, a number
    attribute holding text and an unknown customer were written. The Map's rules (backends.values) and the
    service's customer check now hold for every source."""
    from customers.services import create_customer_user

    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser1": ldap_source_settings(ReadOnly=0)}
    values = {"UserLogin": "ruled.user", "UserFirstname": "R", "UserLastname": "U",
              "UserEmail": "not-an-address", "UserCustomerID": "LDAP-02"}  # fmt: skip
    customer_factory(customer_id="LDAP-02", name="LDAP two")
    with pytest.raises(CustomerUserInvalid) as caught:
        create_customer_user(attributes=values, acting_user=acting_user, source="CustomerUser1")
    assert caught.value.field_errors == {"UserEmail": ["'not-an-address' is not a valid e-mail address."]}
    with pytest.raises(CustomerUserInvalid) as caught:
        create_customer_user(attributes={**values, "UserEmail": "r@example.org", "UserCustomerID": "NOPE"},
                             acting_user=acting_user, source="CustomerUser1")  # fmt: skip
    assert caught.value.field_errors == {"UserCustomerID": ["There is no customer 'NOPE'."]}
    assert source(ldap_source_settings()).get("ruled.user") is None  # nothing was written


@pytest.mark.django_db
def test_validity_on_a_writable_directory_is_written_or_refused_never_dropped(
    ldap_source_settings, slapd, settings, acting_user, customer_factory
):
    """Issue 32, point 16: without a ValidID Map row, the CustomerUserValidFilter `(!(employeeType=disabled))`
    is the convention: invalidating writes the mark, the person can no longer log in and searches leave
    them out; valid again removes it. A directory that keeps no validity refuses, naming the field."""
    from customers.authentication import authenticate_customer_user
    from customers.selectors import get_customer_user
    from customers.services import create_customer_user, invalidate_customer_user, update_customer_user

    settings.CUSTOMER_USER_BACKENDS = {
        "CustomerUser1": ldap_source_settings(ReadOnly=0, CustomerCompanySupport=0)
    }
    values = {"UserLogin": "valid.user", "UserFirstname": "V", "UserLastname": "U", "UserEmail": "v@example.org",
              "UserCustomerID": "LDAP-02", "UserPassword": "Lavender-7-Secret"}  # fmt: skip
    record, _ = create_customer_user(attributes=values, acting_user=acting_user, source="CustomerUser1")
    try:
        assert authenticate_customer_user("valid.user", "Lavender-7-Secret").ok
        invalidate_customer_user(login="valid.user", acting_user=acting_user)
        assert get_customer_user("valid.user").valid_id == 2
        assert slapd_value(slapd, record.get("DN"), "employeeType") == ["disabled"]
        assert not authenticate_customer_user("valid.user", "Lavender-7-Secret").ok
        update_customer_user(login="valid.user", changes={"ValidID": 1}, acting_user=acting_user)
        assert get_customer_user("valid.user").valid_id == 1
        assert slapd_value(slapd, record.get("DN"), "employeeType") == []

        settings.CUSTOMER_USER_BACKENDS = {
            "CustomerUser1": ldap_source_settings(
                ReadOnly=0, CustomerCompanySupport=0, CustomerUserValidFilter=""
            )
        }
        with pytest.raises(CustomerUserInvalid) as caught:
            update_customer_user(login="valid.user", changes={"ValidID": "2"}, acting_user=acting_user)
        assert list(caught.value.field_errors) == ["ValidID"]
        assert get_customer_user("valid.user").valid_id == 1
    finally:
        with contextlib.suppress(RuntimeError):
            slapd.ldapdelete(f"uid=valid.user,{PEOPLE_DN}")


def slapd_value(slapd, dn, attribute):
    connection = ldap.initialize(slapd.ldap_uri)
    connection.simple_bind_s(SERVICE_DN, SERVICE_PW)
    try:
        ((_, attrs),) = connection.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", [attribute])
    finally:
        connection.unbind_s()
    return [value.decode() for value in attrs.get(attribute, [])]


@pytest.mark.django_db
def test_a_writable_directory_checks_email_uniqueness_as_the_database_does(ldap_source_settings, slapd):
    """Issue 32 (the write skeleton): CustomerUserEmailUniqCheck holds in a writable directory too, case-blind."""
    writable = source(ldap_source_settings(ReadOnly=0, CustomerUserEmailUniqCheck=1))
    taken = writable.get("person0005").email
    values = {"UserLogin": "mail.twin", "UserFirstname": "M", "UserLastname": "T", "UserEmail": taken.upper(),
              "UserCustomerID": "LDAP-02"}  # fmt: skip
    with pytest.raises(CustomerUserInvalid) as caught:
        writable.add(values, acting_user=None)
    assert caught.value.field_errors == {
        "UserEmail": [f"The e-mail address {taken.upper()!r} is already in use for another customer user."]
    }
    assert writable.get("mail.twin") is None
    assert (
        writable.validate(
            {**values, "UserLogin": "person0005", "UserEmail": taken}, writable.get("person0005")
        )
        == {}
    )
