"""The own-database source (R40–R64) through the public service API."""

import pytest
from django.db import connection

from backends.base import SearchQuery
from backends.errors import CustomerUserInvalid, SourceReadOnly
from backends.registry import SourceHandler
from customers.models import (
    CustomerUser,
    CustomerUserCustomer,
    CustomerUserGroup,
    CustomerUserPreference,
    CustomerUserService,
    Validity,
)
from customers.selectors import (
    get_customer_name,
    get_customer_user,
    list_customer_id_values,
    list_customer_ids,
    list_customer_users,
    search_customer_users,
)
from customers.services import (
    create_customer_user,
    invalidate_customer_user,
    set_customer_user_password,
    update_customer_user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def logins(page):
    return [row.login for row in page.rows]


@pytest.fixture
def people(customer_user_factory, customer_factory):
    acme = customer_factory(customer_id="ACME", name="Acme Corp")
    customer_factory(customer_id="ACME-EU", name="Acme Europe")
    return {
        "jdoe": customer_user_factory(
            login="jdoe",
            first_name="John",
            last_name="Doe",
            email="John@Example.com",
            customer_id=acme.customer_id,
        ),
        "mmuller": customer_user_factory(
            login="mmuller",
            first_name="Max",
            last_name="Müller",
            email="max@example.de",
            customer_id="ACME-EU",
        ),
        "joanna": customer_user_factory(
            login="joanna",
            first_name="Joanna",
            last_name="Annan",
            email="joanna@example.com",
            customer_id=acme.customer_id,
        ),
        "gone": customer_user_factory(
            login="gone",
            first_name="Gone",
            last_name="Doe",
            email="gone@example.com",
            customer_id=acme.customer_id,
            validity=Validity.INVALID,
        ),
    }


def test_search_is_substring_by_shipped_prefix_and_suffix(registry, people):
    """R43 with the shipped `*term*`: a substring of any search field matches."""
    assert logins(search_customer_users(term="oe", registry=registry)) == ["jdoe"]


def test_search_is_case_insensitive_for_international_names(registry, people):
    """R43/R11: case-insensitive by default, also beyond ASCII."""
    assert logins(search_customer_users(term="MÜLLER", registry=registry)) == ["mmuller"]
    assert logins(search_customer_users(term="mül*", registry=registry)) == ["mmuller"]


def test_search_returns_valid_users_only_by_default(registry, people):
    """R41: Valid defaults to 1; valid_only=False returns all."""
    assert logins(search_customer_users(term="doe", registry=registry)) == ["jdoe"]
    assert logins(search_customer_users(term="doe", valid_only=False, registry=registry)) == ["gone", "jdoe"]


def test_search_grammar_and_or_not_and_phrases(registry, people):
    """R43: `+`/AND, OR, leading `!`, and plain spaces that are no operators."""
    assert logins(search_customer_users(term="jo+doe", registry=registry)) == ["jdoe"]
    assert logins(search_customer_users(term="john AND doe", registry=registry)) == ["jdoe"]
    assert logins(search_customer_users(term="max OR annan", registry=registry)) == ["joanna", "mmuller"]
    assert logins(search_customer_users(term="acme+!doe", registry=registry)) == ["joanna", "mmuller"]
    assert logins(search_customer_users(term="acme+!doe+!max", registry=registry)) == ["joanna"]
    assert logins(search_customer_users(term="John Doe", registry=registry)) == []


def test_search_treats_sql_wildcards_and_parentheses_as_literals(registry, people, customer_user_factory):
    """R43: `%`, `_`, `(`, `)`, `&`, `|` are literal."""
    customer_user_factory(login="under_score", first_name="Pat (x)", customer_id="ACME")
    assert logins(search_customer_users(term="%", registry=registry)) == []
    assert logins(search_customer_users(term="r_s", registry=registry)) == ["under_score"]
    assert logins(search_customer_users(term="(x)", registry=registry)) == ["under_score"]
    assert logins(search_customer_users(term="x|y", registry=registry)) == []


def test_unparsable_search_finds_nothing(registry, people):
    """R43: an unparsable expression yields no result."""
    assert logins(search_customer_users(term='"unbalanced', registry=registry)) == []


def test_search_stops_at_the_list_limit_and_says_so(db_source_settings, people, customer_user_factory):
    """R42 without silent truncation (W6): the page says which source has more."""
    for n in range(5):
        customer_user_factory(login=f"limit{n}", customer_id="ACME")
    registry = SourceHandler({"CustomerUser": db_source_settings(CustomerUserSearchListLimit=3)})

    page = search_customer_users(term="limit*", registry=registry)

    assert logins(page) == ["limit0", "limit1", "limit2"]
    assert page.truncated_sources == ("CustomerUser",)
    assert page.source_totals == (("CustomerUser", 5),)  # and how many there are
    assert search_customer_users(term="limit4", registry=registry).truncated_sources == ()


def test_postmaster_search_is_exact_and_case_insensitive(registry, people):
    """R45: whole-value equality on the postmaster fields; no wildcards, no substrings."""
    assert logins(search_customer_users(postmaster="john@example.COM", registry=registry)) == ["jdoe"]
    assert logins(search_customer_users(postmaster="example.com", registry=registry)) == []
    assert logins(search_customer_users(postmaster="*@example.com", registry=registry)) == []


def test_login_search_is_exact_unless_wildcarded(registry, people):
    """W2: `ann` must not find `joanna`; `*` still works as a wildcard (R46)."""
    assert logins(search_customer_users(login="ann", registry=registry)) == []
    assert logins(search_customer_users(login="JOANNA", registry=registry)) == ["joanna"]
    assert logins(search_customer_users(login="jo*", registry=registry)) == ["joanna"]


def test_customer_id_search_wildcards_and_raw(registry, people):
    """R47 with `%` literal (W3); R48 exact."""
    assert logins(search_customer_users(customer_id="ACME*", registry=registry)) == [
        "jdoe",
        "joanna",
        "mmuller",
    ]
    assert logins(search_customer_users(customer_id="acme", registry=registry)) == ["jdoe", "joanna"]
    assert logins(search_customer_users(customer_id="%", registry=registry)) == []
    assert logins(search_customer_users(customer_id_raw="ACME*", registry=registry)) == []
    assert logins(search_customer_users(customer_id_raw="acme-eu", registry=registry)) == ["mmuller"]


def test_search_needs_a_selector(registry):
    """R40."""
    with pytest.raises(ValueError, match="R40"):
        search_customer_users(registry=registry)


def test_display_string_puts_the_email_in_angle_brackets(registry, people):
    """R44 with the shipped list fields [first_name, last_name, email]."""
    [row] = search_customer_users(login="jdoe", registry=registry).rows
    assert row.display == '"John Doe" <John@Example.com>'
    assert row.source == "CustomerUser"


def test_display_string_does_not_guess_emails(db_source_settings, customer_user_factory):
    """W15: a name that ends in something like an address is not rewritten."""
    customer_user_factory(login="odd", first_name="x@y.z", last_name="", email="odd@example.com")
    registry = SourceHandler(
        {"CustomerUser": db_source_settings(CustomerUserListFields=["login", "first_name"])}
    )
    assert search_customer_users(login="odd", registry=registry).rows[0].display == "odd x@y.z"


def test_list_and_search_fields_outside_the_map_read_their_columns(db_source_settings, customer_user_factory):
    """R44, R43: list and search fields are column names; a column the Map leaves out is still shown and
    searched (the reference's examples list fields without Map rows)."""
    customer_user_factory(login="dr.who", title="Dr.", first_name="W", last_name="Ho", email="w@example.com")
    source = db_source_settings(
        CustomerUserListFields=["title", "last_name", "email"], CustomerUserSearchFields=["login", "title"]
    )
    source["Map"] = [row for row in source["Map"] if row[2] != "title"]
    registry = SourceHandler({"CustomerUser": source})
    [row] = search_customer_users(term="dr.", registry=registry).rows
    assert row.display == '"Dr. Ho" <w@example.com>'
    assert "UserTitle" not in get_customer_user("dr.who", registry=registry).attributes


def test_data_get_is_case_insensitive_and_returns_invalid_users(registry, people):
    """R55: `JDOE` finds `jdoe`; invalid users are returned; the hash never is."""
    record = get_customer_user("JDOE", registry=registry)
    assert record.login == "jdoe"
    assert record["UserID"] == "jdoe"
    assert record["Source"] == "CustomerUser"
    assert record["UserFullname"] == "John Doe"
    assert record["CustomerCompanyName"] == "Acme Corp"
    assert "UserPassword" not in record.attributes
    assert get_customer_user("gone", registry=registry)["ValidID"] == Validity.INVALID
    assert get_customer_user("nobody", registry=registry) is None


def test_search_case_sensitive_leaves_data_get_case_blind(db_source_settings, people):
    """R11, R55: SearchCaseSensitive is about searches; a login is found whatever its case unless
    CaseSensitive says otherwise. Measured: with SearchCaseSensitive = 1 `JDOE` was a 404."""
    sensitive_search = SourceHandler(
        {"CustomerUser": db_source_settings(Params={"Table": "customer_user", "SearchCaseSensitive": 1})}
    )
    assert get_customer_user("JDOE", registry=sensitive_search).login == "jdoe"
    assert logins(search_customer_users(term="JDO*", registry=sensitive_search)) == []
    assert logins(search_customer_users(term="jdo*", registry=sensitive_search)) == ["jdoe"]
    sensitive = SourceHandler(
        {"CustomerUser": db_source_settings(Params={"Table": "customer_user", "CaseSensitive": 1})}
    )
    assert get_customer_user("JDOE", registry=sensitive) is None
    assert get_customer_user("jdoe", registry=sensitive).login == "jdoe"


def test_customer_name(registry, people):
    """R64: non-empty name fields joined by a space; '' for an unknown login."""
    assert get_customer_name("jdoe", registry=registry) == "John Doe"
    assert get_customer_name("nobody", registry=registry) == ""


def test_customer_ids_primary_then_additional(registry, people, acting_user):
    """R23/R61: the source's list (primary ID), then additional customers not already present."""
    CustomerUserCustomer.objects.create(login="jdoe", customer_id="ACME-EU")
    CustomerUserCustomer.objects.create(login="jdoe", customer_id="ACME")
    assert list_customer_ids("jdoe", registry=registry) == ["ACME", "ACME-EU"]


def test_customer_ids_exclude_primary(db_source_settings, people):
    """R61/R120: with CustomerUserExcludePrimaryCustomerID the primary ID is left out."""
    registry = SourceHandler({"CustomerUser": db_source_settings(CustomerUserExcludePrimaryCustomerID=1)})
    CustomerUserCustomer.objects.create(login="jdoe", customer_id="ACME-EU")
    assert list_customer_ids("jdoe", registry=registry) == ["ACME-EU"]


def test_customer_id_list(registry, people):
    """R24/R62: distinct primary IDs of valid users, sorted case-insensitively, with an R43 term."""
    assert list_customer_id_values(registry=registry) == ["ACME", "ACME-EU"]
    assert list_customer_id_values("*eu", registry=registry) == ["ACME-EU"]


# ------------------------------------------------------------------------------------------------- writes
def valid_attributes(**overrides):
    values = {
        "UserLogin": "new.user",
        "UserFirstname": "Łukasz",
        "UserLastname": "Żółć",
        "UserEmail": "lukasz@example.pl",
        "UserCustomerID": "ACME",
    }
    values.update(overrides)
    return values


def test_add_generates_a_password_when_none_is_given(registry, people, acting_user):
    """An empty password gets a random one, returned once and stored only as a Django hash."""
    record, password = create_customer_user(
        attributes=valid_attributes(), acting_user=acting_user, registry=registry
    )
    stored = CustomerUser.objects.get(login="new.user")
    assert record.login == "new.user"
    assert password
    assert len(password) >= 8
    assert password not in stored.password
    assert registry["CustomerUser"].check_password("new.user", password) is True
    assert stored.created_by == acting_user


def test_add_with_a_password_stores_only_its_hash(registry, people, acting_user):
    _record, generated = create_customer_user(
        attributes=valid_attributes(UserPassword="correct horse"), acting_user=acting_user, registry=registry
    )
    assert generated is None
    assert CustomerUser.objects.get(login="new.user").password.startswith(("md5$", "pbkdf2_sha256$"))
    assert registry["CustomerUser"].check_password("new.user", "correct horse") is True
    assert registry["CustomerUser"].check_password("NEW.USER", "wrong") is False


def test_add_refuses_missing_required_fields_and_writes_nothing(registry, people, acting_user):
    """R56(2): every required Map attribute must be non-empty; all missing ones are named at once."""
    before = CustomerUser.objects.count()
    with pytest.raises(CustomerUserInvalid) as caught:
        create_customer_user(
            attributes=valid_attributes(UserFirstname="", UserEmail=" "),
            acting_user=acting_user,
            registry=registry,
        )
    assert caught.value.field_errors == {
        "UserFirstname": ["First name is required."],
        "UserEmail": ["E-mail address is required."],
    }
    assert CustomerUser.objects.count() == before


def test_internationalised_addresses_are_accepted_and_the_check_can_be_switched_off(
    registry, people, acting_user, settings
):
    """RFC 6531 local parts, internationalised domains; `CheckEmailAddresses = 0` as in the reference.
    Measured: `unittest-ä1@example.com` was refused and the check could not be switched off."""
    for n, address in enumerate(["unittest-ä1@example.com", "jürgen@müller.de", "用户@例子.广告"]):
        record, _ = create_customer_user(attributes=valid_attributes(UserLogin=f"intl{n}", UserEmail=address),
                                         acting_user=acting_user, registry=registry)  # fmt: skip
        assert record["UserEmail"] == address
    for bad in ("a@@example.com", "two words@example.com", "dot.@example.com"):
        with pytest.raises(CustomerUserInvalid):
            create_customer_user(attributes=valid_attributes(UserLogin="bad", UserEmail=bad),
                                 acting_user=acting_user, registry=registry)  # fmt: skip
    settings.HELPDESK_SETTINGS = {**settings.HELPDESK_SETTINGS, "CheckEmailAddresses": 0}
    record, _ = create_customer_user(attributes=valid_attributes(UserLogin="free", UserEmail="not-an-address"),
                                     acting_user=acting_user, registry=registry)  # fmt: skip
    assert record["UserEmail"] == "not-an-address"


def test_add_refuses_a_malformed_email_only_for_valid_users(registry, people, acting_user):
    """R56(6): invalid users may carry malformed e-mails."""
    with pytest.raises(CustomerUserInvalid) as caught:
        create_customer_user(
            attributes=valid_attributes(UserEmail="not-an-address"),
            acting_user=acting_user,
            registry=registry,
        )
    assert caught.value.field_errors == {"UserEmail": ["'not-an-address' is not a valid e-mail address."]}
    create_customer_user(
        attributes=valid_attributes(UserEmail="not-an-address", ValidID=2),
        acting_user=acting_user,
        registry=registry,
    )


def test_add_refuses_a_duplicate_email_case_insensitively_even_of_invalid_users(
    registry, people, acting_user
):
    """R56(5)/R57 under CustomerUserEmailUniqCheck."""
    with pytest.raises(CustomerUserInvalid) as caught:
        create_customer_user(
            attributes=valid_attributes(UserEmail="GONE@example.com"),
            acting_user=acting_user,
            registry=registry,
        )
    assert caught.value.field_errors == {
        "UserEmail": ["The e-mail address 'GONE@example.com' is already in use for another customer user."]
    }


def test_duplicate_email_allowed_without_uniq_check(db_source_settings, people, acting_user):
    registry = SourceHandler({"CustomerUser": db_source_settings(CustomerUserEmailUniqCheck=0)})
    record, _ = create_customer_user(
        attributes=valid_attributes(UserEmail="john@example.com"), acting_user=acting_user, registry=registry
    )
    assert record.email == "john@example.com"


def test_add_refuses_a_duplicate_login_in_any_case(registry, people, acting_user):
    """R25: a login that exists in any source is refused (case-insensitively, R55)."""
    with pytest.raises(CustomerUserInvalid) as caught:
        create_customer_user(
            attributes=valid_attributes(UserLogin="JDoe"), acting_user=acting_user, registry=registry
        )
    assert caught.value.field_errors == {"UserLogin": ["Customer user 'JDoe' already exists."]}


def test_add_needs_an_existing_customer_with_company_support(registry, people, acting_user):
    with pytest.raises(CustomerUserInvalid) as caught:
        create_customer_user(
            attributes=valid_attributes(UserCustomerID="NOPE"), acting_user=acting_user, registry=registry
        )
    assert caught.value.field_errors == {"UserCustomerID": ["There is no customer 'NOPE'."]}


def test_add_without_company_support_accepts_unknown_customers(db_source_settings, people, acting_user):
    """R2: without CustomerCompanySupport a user may point at a company that does not exist."""
    registry = SourceHandler({"CustomerUser": db_source_settings(CustomerCompanySupport=0)})
    record, _ = create_customer_user(
        attributes=valid_attributes(UserCustomerID="NOPE"), acting_user=acting_user, registry=registry
    )
    assert record.customer_id == "NOPE"


def test_add_refuses_over_long_values_and_a_10_mb_string(registry, people, acting_user):
    before = CustomerUser.objects.count()
    with pytest.raises(CustomerUserInvalid) as caught:
        create_customer_user(
            attributes=valid_attributes(UserFirstname="x" * 101, UserComment="y" * 10 * 1024 * 1024),
            acting_user=acting_user,
            registry=registry,
        )
    assert caught.value.field_errors == {
        "UserFirstname": ["First name has 101 characters; at most 100 are allowed."],
        "UserComment": ["Comment has 10485760 characters; at most 250 are allowed."],
    }
    assert CustomerUser.objects.count() == before


def test_add_refuses_nul_characters(registry, people, acting_user):
    with pytest.raises(CustomerUserInvalid) as caught:
        create_customer_user(
            attributes=valid_attributes(UserCity="a\x00b"), acting_user=acting_user, registry=registry
        )
    assert caught.value.field_errors == {"UserCity": ["City must not contain NUL characters ('a\\x00b')."]}


def test_auto_login_creation(db_source_settings, people, acting_user):
    """R56(4): without a login, AutoLoginCreation makes `<prefix>-<YYYYMMDDhhmm><n>`."""
    registry = SourceHandler(
        {"CustomerUser": db_source_settings(AutoLoginCreation=1, AutoLoginCreationPrefix="cu")}
    )
    record, _ = create_customer_user(
        attributes=valid_attributes(UserLogin=""), acting_user=acting_user, registry=registry
    )
    assert record.login.startswith("cu-")
    assert record.login.removeprefix("cu-")[:12].isdigit()


def test_read_only_source_refuses_every_write(db_source_settings, people, acting_user):
    registry = SourceHandler({"CustomerUser": db_source_settings(ReadOnly=1)})
    with pytest.raises(SourceReadOnly, match="Source CustomerUser is read-only"):
        create_customer_user(attributes=valid_attributes(), acting_user=acting_user, registry=registry)
    with pytest.raises(SourceReadOnly):
        update_customer_user(
            login="jdoe", changes={"UserCity": "Paris"}, acting_user=acting_user, registry=registry
        )
    with pytest.raises(SourceReadOnly):
        set_customer_user_password(
            login="jdoe", password="x" * 12, acting_user=acting_user, registry=registry
        )
    assert not CustomerUser.objects.filter(login="new.user").exists()
    assert CustomerUser.objects.get(login="jdoe").city == "Berlin"


def test_update_keeps_unchanged_attributes_and_skips_read_only_rows(db_source_settings, people, acting_user):
    """R58: a full replace underneath; read-only Map rows are never written on update (R12)."""
    source = db_source_settings()
    source["Map"] = [row if row[0] != "UserCity" else [*row[:7], 1] for row in source["Map"]]
    registry = SourceHandler({"CustomerUser": source})

    record = update_customer_user(
        login="jdoe",
        changes={"UserLastname": "Dough", "UserCity": "Paris"},
        acting_user=acting_user,
        registry=registry,
    )

    assert (record["UserLastname"], record["UserFirstname"], record["UserCity"]) == (
        "Dough",
        "John",
        "Berlin",
    )


def test_update_validates_like_add_and_changes_nothing_on_error(registry, people, acting_user):
    with pytest.raises(CustomerUserInvalid) as caught:
        update_customer_user(
            login="jdoe",
            changes={"UserEmail": "max@EXAMPLE.de", "UserLastname": ""},
            acting_user=acting_user,
            registry=registry,
        )
    assert caught.value.field_errors == {"UserLastname": ["Last name is required."]}
    assert CustomerUser.objects.get(login="jdoe").last_name == "Doe"
    with pytest.raises(CustomerUserInvalid) as caught:
        update_customer_user(
            login="jdoe", changes={"UserEmail": "max@EXAMPLE.de"}, acting_user=acting_user, registry=registry
        )
    assert list(caught.value.field_errors) == ["UserEmail"]


def test_rename_moves_preferences_and_every_relation(
    registry, people, acting_user, group_factory, service_factory
):
    """R60 moves preferences; unlike the reference (W10) groups and companies move too."""
    group, service = group_factory(name="support"), service_factory(name="IT::Mail")
    CustomerUserPreference.objects.create(login="jdoe", key="UserLanguage", value="de")
    CustomerUserCustomer.objects.create(login="jdoe", customer_id="ACME-EU")
    CustomerUserGroup.objects.create(login="jdoe", group=group, permission="rw")
    CustomerUserService.objects.create(login="jdoe", service=service)

    update_customer_user(
        login="jdoe", changes={"UserLogin": "john.doe"}, acting_user=acting_user, registry=registry
    )

    for model in (CustomerUserPreference, CustomerUserCustomer, CustomerUserGroup, CustomerUserService):
        assert list(model.objects.values_list("login", flat=True)) == ["john.doe"]
    assert get_customer_user("jdoe", registry=registry) is None
    assert get_customer_user("john.doe", registry=registry)["UserLanguage"] == "de"


def test_rename_to_an_existing_login_is_refused(registry, people, acting_user):
    """R26."""
    with pytest.raises(CustomerUserInvalid) as caught:
        update_customer_user(
            login="jdoe", changes={"UserLogin": "JOANNA"}, acting_user=acting_user, registry=registry
        )
    assert caught.value.field_errors == {"UserLogin": ["Customer user 'JOANNA' already exists."]}


def test_invalidate_replaces_delete(registry, people, acting_user):
    """R59: the row, relations and preferences stay; the validity changes."""
    invalidate_customer_user(login="jdoe", acting_user=acting_user, validity=Validity.INVALID_TEMPORARILY)
    assert CustomerUser.objects.get(login="jdoe").validity == Validity.INVALID_TEMPORARILY
    assert logins(search_customer_users(term="john", registry=registry)) == []


def test_extra_map_attribute_needs_no_migration(db_source_settings, people, acting_user):
    """A Map row whose storage is not a column lives in extra_attributes, searchable like any other."""
    source = db_source_settings(CustomerUserSearchFields=["login", "last_name", "department"])
    source["Map"] = [*source["Map"], ["UserDepartment", "Department", "department", 1, 1, "var", "", 0]]
    registry = SourceHandler({"CustomerUser": source})

    create_customer_user(
        attributes=valid_attributes(UserDepartment="Logistik Süd"), acting_user=acting_user, registry=registry
    )

    assert get_customer_user("new.user", registry=registry)["UserDepartment"] == "Logistik Süd"
    assert logins(search_customer_users(term="logistik", registry=registry)) == ["new.user"]
    with pytest.raises(CustomerUserInvalid) as caught:
        create_customer_user(
            attributes=valid_attributes(UserLogin="other", UserEmail="o@example.com"),
            acting_user=acting_user,
            registry=registry,
        )
    assert caught.value.field_errors == {"UserDepartment": ["Department is required."]}


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_searches_can_use_indexes_on_postgresql(registry, people):
    """W1: every search shape has an index PostgreSQL can use instead of scanning the table."""
    source = registry["CustomerUser"]
    from backends.base import SearchQuery

    queries = [
        SearchQuery(term="mül*"),
        SearchQuery(term="*ller*"),
        SearchQuery(postmaster="john@example.com"),
        SearchQuery(login="jdoe"),
        SearchQuery(customer_id_raw="ACME"),
    ]
    for query in queries:
        qs = source._base_queryset(query.valid_only).filter(source._selector_q(query))
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            sql, params = qs.query.sql_with_params()
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Seq Scan" not in plan, (query, plan)


def test_customer_user_list(registry, people):
    """CustomerUserList: all users (valid ones by default), from which source, bounded with a note."""
    assert logins(list_customer_users(registry=registry)) == ["jdoe", "joanna", "mmuller"]
    page = list_customer_users(valid_only=False, limit=2, registry=registry)
    assert logins(page) == ["gone", "jdoe"]
    assert page.truncated_sources == ("CustomerUser",)
    assert {row.source for row in page.rows} == {"CustomerUser"}


def test_input_with_nul_matches_nothing_instead_of_failing(registry, people):
    """PostgreSQL refuses NUL in a query; no stored value holds one, so such input simply finds nobody."""
    source = registry["CustomerUser"]
    for selector in ("term", "postmaster", "login", "customer_id", "customer_id_raw"):
        assert search_customer_users(**{selector: "jdoe\x00"}, registry=registry).rows == []
    assert source.get("jdoe\x00") is None
    assert source.get_many(["jdoe\x00", "jdoe"]).keys() == {"jdoe"}
    assert source.check_password("jdoe\x00", "whatever") is None
    assert source.list_customer_id_values("ACME\x00") == []


def test_every_read_path_returns_the_same_record_for_the_same_row(registry, people):
    """Issue 32: one record per row whichever read plan builds it: data get, many logins at once, a
    search (prefix, general, by login, postmaster) and the streamed export."""
    source = registry["CustomerUser"]
    streamed = {r.login: r for r in source.iter_records(valid_only=False)}
    many = source.get_many(list(people))
    for login, row in people.items():
        one = source.get(login)
        found = {
            "get_many": many[login],
            "iter_records": streamed[login],
            "search by term": _only(source.search(SearchQuery(term=login, valid_only=False)), login),
            "search by infix": _only(
                source.search(SearchQuery(term=f"*{login[1:]}", valid_only=False)), login
            ),
            "search by login": _only(source.search(SearchQuery(login=login, valid_only=False)), login),
            "postmaster": _only(source.search(SearchQuery(postmaster=row.email, valid_only=False)), login),
        }
        assert {path: record for path, record in found.items() if record != one} == {}
        assert {path: record.display for path, record in found.items() if record.display != one.display} == {}


def _only(result, login):
    return next(record for record in result.records if record.login == login)
