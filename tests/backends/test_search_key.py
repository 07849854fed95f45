"""Wildcard searches through the generated search key (W1) find exactly what a field-by-field match finds.

The DB source answers a wildcard term over the shipped search fields with one `search_key LIKE …` and
narrows other terms with it; these tests hold both against a plain implementation of R43's matching.
"""

import fnmatch

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.registry import SourceHandler
from customers.models import CustomerUser
from customers.selectors import list_customer_users, search_customer_users

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]

ALPHABET = "ab_%*\\Ä"  # LIKE's specials and a non-ASCII letter, in a small alphabet so that terms match
FIELDS = ("login", "first_name", "last_name", "customer_id", "email")

PEOPLE = [
    ("anna", "Anna", "Ab", "A%B", "anna@example.com"),
    ("bob_b", "Bob", "Bä", "ACME", "bob@example.com"),
    ("carl", "Ca", "Rl", "A_B", "ab@example.com"),
    ("dora", "b*a", "Ba", "BA", "dora@example.com"),
    ("eve", "", "Äbab", "AB", "eve@example.com"),
    ("fred", "Ab", "Ab", "ab\\", "f@example.com"),
    ("ab", "X", "Y", "Z", "x@example.com"),
    ("gil", "Al", "Cob", "Q", "g@example.com"),  # `a*b` spans two fields only
]


@pytest.fixture
def people():
    for login, first, last, customer_id, email in PEOPLE:
        CustomerUser.objects.create(
            login=login, first_name=first, last_name=last, customer_id=customer_id, email=email
        )


def expected(pattern: str, fields: tuple[str, ...]) -> list[str]:
    """R43 on plain data: a case-blind match of `*`-wildcards on any of the fields."""
    found = []
    for person in PEOPLE:
        values = dict(zip(FIELDS, person, strict=True))
        if any(_matches(values[f].lower(), pattern.lower()) for f in fields):
            found.append(values["login"])
    return sorted(found)


def _matches(value: str, pattern: str) -> bool:
    translated = "".join("*" if c == "*" else f"[{c}]" if c in "?[" else c for c in pattern)
    return fnmatch.fnmatchcase(value, translated)


def search(db_source_settings, term: str, fields: tuple[str, ...], prefix="", suffix="*") -> list[str]:
    registry = SourceHandler({"CustomerUser": db_source_settings(
        CacheTTL=0, CustomerUserSearchFields=list(fields), CustomerUserSearchPrefix=prefix,
        CustomerUserSearchSuffix=suffix,
    )})  # fmt: skip
    return sorted(r.login for r in search_customer_users(term=term, registry=registry).rows)


SHIPPED = ("login", "first_name", "last_name", "customer_id")


@pytest.mark.parametrize(
    ("term", "prefix", "suffix"),
    [
        ("ab", "", "*"),  # prefix of any field
        ("ab", "*", "*"),  # anywhere in a field
        ("ab", "", ""),  # a whole field
        ("ab", "*", ""),  # the end of a field
        ("a*b", "", ""),  # an inner wildcard never spans two fields
        ("%", "*", "*"),  # LIKE's specials are literal (R43)
        ("_", "", "*"),
        ("\\", "*", ""),
        ("ä", "", "*"),  # case-blind beyond ASCII
        ("*", "", ""),
    ],
)
def test_the_key_finds_what_a_field_by_field_match_finds(people, db_source_settings, term, prefix, suffix):
    pattern = f"{prefix}{term}{suffix}".replace("**", "*")
    for fields in (SHIPPED, ("last_name",), ("login", "email"), (*SHIPPED, "email")):
        assert search(db_source_settings, term, fields, prefix, suffix) == expected(pattern, fields), fields


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    term=st.text(alphabet=ALPHABET, min_size=1, max_size=3).filter(lambda t: t.strip("*") and '"' not in t),
    prefix=st.sampled_from(["", "*"]),
    suffix=st.sampled_from(["", "*"]),
    fields=st.sampled_from([SHIPPED, ("first_name", "last_name"), ("customer_id",), (*SHIPPED, "email")]),
)
def test_any_term_matches_like_the_plain_implementation(
    people, db_source_settings, term, prefix, suffix, fields
):
    pattern = f"{prefix}{term}{suffix}"
    while "**" in pattern:
        pattern = pattern.replace("**", "*")
    assert search(db_source_settings, term, fields, prefix, suffix) == expected(pattern, fields)


def test_a_truncated_search_counts_its_matches_up_to_the_cap(db_source_settings):
    CustomerUser.objects.bulk_create(
        CustomerUser(login=f"user{n:03d}", first_name="Pat", last_name=f"Lee{n}", customer_id="C", email="")
        for n in range(260)
    )
    registry = SourceHandler({"CustomerUser": db_source_settings(CacheTTL=0)})
    lee1 = {f"user{n:03d}" for n in range(260) if str(n).startswith("1")}
    some = search_customer_users(term="lee1*", limit=50, registry=registry)
    assert (len(some.rows), some.truncated_sources, some.source_totals) == (50, ("CustomerUser",), (
        ("CustomerUser", 111),))  # fmt: skip
    # R20 promises no order: a truncated page holds `limit` of the matches, shown in login order.
    logins = [r.login for r in some.rows]
    assert set(logins) <= lee1
    assert logins == sorted(logins)
    every = search_customer_users(term="pat", limit=50, registry=registry)
    assert (len(every.rows), every.truncated_sources, every.source_totals) == (50, ("CustomerUser",), ())
    assert len({r.login for r in every.rows}) == 50
    few = search_customer_users(term="lee25*", limit=50, registry=registry)
    assert ([r.login for r in few.rows], few.truncated_sources, few.source_totals) == (
        ["user025", *(f"user{n}" for n in range(250, 260))], (), (("CustomerUser", 11),))  # fmt: skip


def test_the_list_is_the_first_logins_in_login_order(db_source_settings):
    CustomerUser.objects.bulk_create(
        CustomerUser(login=f"user{n:03d}", first_name="Pat", last_name="Lee", customer_id="C", email="")
        for n in reversed(range(30))
    )
    registry = SourceHandler({"CustomerUser": db_source_settings(CacheTTL=0)})
    listed = list_customer_users(limit=10, registry=registry)
    assert [r.login for r in listed.rows] == [f"user{n:03d}" for n in range(10)]
    assert listed.truncated_sources == ("CustomerUser",)


@pytest.mark.parametrize(
    "term",
    ["b*", "bo*", "ab*", "ä*", "a_*", "a%*", "ab\\*", "nobody*", "ANNA", "*b*", "a* + !b*", "a* OR b*"],
)
@pytest.mark.parametrize("limit", [1, 2, 3, 250])
def test_every_page_holds_only_matches_and_says_when_it_is_cut(people, db_source_settings, term, limit):
    """The page contract a faster plan must keep: the complete answer when it fits, else `limit` distinct
    matches, flagged as cut, with the count of matches (here below the cap)."""
    registry = SourceHandler({"CustomerUser": db_source_settings(CacheTTL=0)})
    every = search_customer_users(term=term, limit=1000, registry=registry)
    matches = sorted(r.login for r in every.rows)
    page = search_customer_users(term=term, limit=limit, registry=registry)
    logins = [r.login for r in page.rows]
    assert logins == sorted(logins, key=str.casefold)
    assert set(logins) <= set(matches)
    assert len(logins) == min(limit, len(matches))
    assert page.truncated_sources == (("CustomerUser",) if len(matches) > limit else ())
    assert page.source_totals == (("CustomerUser", len(matches)),)
