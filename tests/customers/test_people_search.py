"""Search the way agents type (issue 35): the reference's search first, exactly (R43), then the people it
misses — a pasted address, a name in either order, German transliterations and accents either way.

Measured on the landed code: "Anna Müller", "amuller00@acme.example", "mueller" and "weiss" found nothing;
later "Jose" found no stored José whose login did not say so.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group as AuthGroup
from django.urls import reverse

from customers.models import Customer, CustomerUser, Group
from customers.people_search import find_customer_users
from customers.selectors import search_customer_users
from staff.roles import AGENTS
from tickets.models import Queue, Ticket

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def people(settings, db_source_settings, customer_user_factory):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="ACME", name="Acme")
    for login, first, last in (
        ("amuller00", "Anna", "Müller"),
        ("fweiss", "Fritz", "Weiß"),
        ("jose", "José", "Pérez"),
        ("annab", "Anna", "Berg"),
        ("mmann", "Max", "Mann"),
    ):
        customer_user_factory(login=login, first_name=first, last_name=last, email=f"{login}@acme.example",
                              customer_id="ACME")  # fmt: skip


def logins(page) -> list[str]:
    return [record.login for record in page.rows]


@pytest.mark.sqlite
@pytest.mark.parametrize(("typed", "found"), [
    ("Anna Müller", ["amuller00"]), ("Müller Anna", ["amuller00"]), ("amuller00@acme.example", ["amuller00"]),
    ("mueller", ["amuller00"]), ("muller", ["amuller00"]), ("weiss", ["fweiss"]), ("WEISS", ["fweiss"]),
    ("Pérez José", ["jose"]), ("JOSÉ", ["jose"]),
])  # fmt: skip
def test_people_are_found_the_way_agents_type_them(people, typed, found):
    assert logins(find_customer_users(typed)) == found


def test_an_unaccented_spelling_finds_the_accented_name(people, customer_user_factory):
    """Ours beyond the German spellings (docs/differences.md): any Latin accent, folded in the source's own
    search (an index over the folded key), in either direction and in every word of a name."""
    for login, first, last in (
        ("p-017", "José", "Álvarez"),
        ("p-018", "Zoë", "Łukasiewicz"),
        ("p-019", "Thị", "Nguyễn"),
        ("p-020", "Jose", "Alvarado"),
    ):
        customer_user_factory(login=login, first_name=first, last_name=last, customer_id="ACME",
                              email=f"{login}@acme.example")  # fmt: skip
    assert logins(search_customer_users(term="alvarez")) == []  # R43 itself keeps its accents
    assert logins(find_customer_users("alvarez")) == ["p-017"]
    assert logins(find_customer_users("Jose Alvarez")) == ["p-017"]
    assert logins(find_customer_users("ALVAREZ josé")) == ["p-017"]
    assert logins(find_customer_users("álvarado")) == ["p-020"]  # a typed accent the name does not have
    assert logins(find_customer_users("zoe lukasiewicz")) == ["p-018"]
    assert logins(find_customer_users("nguyen")) == ["p-019"]
    assert logins(find_customer_users("varez", infix=True)) == ["p-017"]
    assert sorted(logins(find_customer_users("jose"))) == ["jose", "p-017", "p-020"]
    assert logins(find_customer_users("alvarez+!jose")) == []  # the reference's grammar: nothing added


def test_the_folded_search_can_read_its_index(people):
    """The folded search compares the stored folded key, which its trigram index answers (no `translate`
    per row at search time: that cost 400 ms per common stem at a million users)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few rows: only a usable index is chosen
    with CaptureQueriesContext(connection) as queries:
        search_customer_users(folded="alvarez")
    (statement,) = [q["sql"] for q in queries.captured_queries if "search_key_folded" in q["sql"]]
    assert "translate" not in statement
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "customer_user_search_key_folded_trgm" in plan


@pytest.mark.sqlite
def test_the_reference_search_keeps_its_grammar_exactly(people):
    assert (
        logins(search_customer_users(term="Anna Müller")) == []
    )  # R43: one phrase, as the reference reads it
    assert logins(find_customer_users("anna+müller")) == ["amuller00"]  # `+` is AND
    assert logins(find_customer_users("anna OR max")) == ["amuller00", "annab", "mmann"]
    assert logins(find_customer_users("anna+!berg")) == ["amuller00"]  # an operator: nothing added
    assert logins(find_customer_users("weiß*")) == ["fweiss"]


@pytest.mark.sqlite
def test_the_references_rows_come_first_and_the_page_is_not_overfilled(people):
    page = find_customer_users("mann", limit=2)  # Max Mann by the reference; no room is taken by more
    assert logins(page)[0] == "mmann"
    assert len(page.rows) <= 2


def test_the_information_center_shows_names_validity_states_and_pages(people, client, django_user_model):
    agent = django_user_model.objects.create_user("agent", password="Staff-Pass-123", is_staff=True)
    agent.groups.add(AuthGroup.objects.get(name=AGENTS))
    client.force_login(agent)
    found = client.get(reverse("admin:information_center"), {"q": "amuller00@acme.example"}).content.decode()
    assert "Anna Müller" in found  # the name, not an empty cell
    assert ">valid<" in found  # in words, not 1
    both = client.get(reverse("admin:information_center"), {"q": "acme"}).content.decode()
    assert 'class="kind-customer"' in both  # one list of both kinds, the kind on each row
    assert 'class="kind-customer-user"' in both
    queue = Queue.objects.create(name="Q", group=Group.objects.create(name="billing"))
    for number, state in (("1", "new"), ("2", "open"), ("3", "open"), ("4", "closed")):
        Ticket.objects.create(number=number, title="t", queue=queue, customer_id="ACME",
                              customer_user_login="amuller00", state=state)  # fmt: skip
    company = client.get(reverse("admin:information_center_customer", args=["ACME"]))
    assert company.context["ticket_states"] == [("new", 1), ("open", 2), ("closed", 1)]
    for n in range(30):
        Customer.objects.create(customer_id=f"ANNA{n:02}", name=f"Anna company {n:02}")
    first = client.get(reverse("admin:information_center"), {"q": "anna"})
    assert first.context["more"]
    second = client.get(reverse("admin:information_center"), {"q": "anna", "page": 2})
    assert [c.customer_id for c in second.context["customers"]] == [f"ANNA{n:02}" for n in range(25, 30)]


def test_the_list_offers_more_rows_past_the_limit_and_a_placeholder_that_fits(
    people, client, django_user_model
):
    client.force_login(
        django_user_model.objects.create_superuser("root", "root@example.com", "Root-Pass-123")
    )
    page = client.get(reverse("admin:customer_user_list"), {"q": "*", "limit": "50"})
    assert page.context["more_limit"] is None  # five people: nothing more to show
    for n in range(60):
        CustomerUser.objects.create(login=f"bulk{n:03}", customer_id="ACME", email=f"bulk{n:03}@acme.example",
                                     first_name="Bulk", last_name=f"{n:03}")  # fmt: skip
    page = client.get(reverse("admin:customer_user_list"), {"q": "bulk*", "limit": "50"})
    html = page.content.decode()
    assert "Show up to 250" in html
    assert "limit=250" in html
    assert 'placeholder="Name, login, e-mail or customer ID"' in html
