"""The customer panel through Django's test client: sessions, authorisation in the service layer, forms."""

import pytest
from django.urls import reverse

from customers.models import Customer, CustomerUser, CustomerUserGroup, CustomerUserPreference, Group
from customers.services import set_customer_user_password
from tickets.models import Article, Queue, Ticket

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


@pytest.fixture
def world(settings, db_source_settings):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    settings.HELPDESK_SETTINGS = {
        **settings.HELPDESK_SETTINGS, "CustomerPermissionTypes": ["ro", "create", "rw"],
        "CustomerGroupAlwaysGroups": [], "CustomerGroupCompanyAlwaysGroups": [],
        "DynamicFieldFromCustomerUserMapping": {"UserCustomerID": "CustomerCompany", "UserEmail": "CustomerMail"},
    }  # fmt: skip
    for cid in ("ACME", "OTHER"):
        Customer.objects.create(customer_id=cid, name=cid)
    for login, cid in (("dana", "ACME"), ("colleague", "ACME"), ("stranger", "OTHER")):
        CustomerUser.objects.create(login=login, customer_id=cid, email=f"{login}@example.com", first_name=login,
                                    last_name="X")  # fmt: skip
        set_customer_user_password(login=login, password="Orchid-4-" + login[::-1], acting_user=None)
    support, billing, readonly = (Group.objects.create(name=n) for n in ("support", "billing", "readonly"))
    CustomerUserGroup.objects.bulk_create([
        CustomerUserGroup(login="dana", group=support, permission="rw"),
        CustomerUserGroup(login="dana", group=readonly, permission="ro"),
        CustomerUserGroup(login="colleague", group=support, permission="rw"),
    ])  # fmt: skip
    queues = {
        g.name: Queue.objects.create(name=f"{g.name.title()} queue", group=g)
        for g in (support, billing, readonly)
    }
    tickets = {}
    for number, owner, cid, queue in (
        ("1001", "dana", "ACME", "support"),
        ("1002", "colleague", "ACME", "support"),
        ("1003", "stranger", "OTHER", "support"),
        ("1004", "colleague", "ACME", "readonly"),
    ):
        tickets[number] = Ticket.objects.create(number=number, title=f"Ticket {number}", queue=queues[queue],
                                                customer_id=cid, customer_user_login=owner)  # fmt: skip
        Article.objects.create(
            ticket=tickets[number], sender="customer", author=owner, body=f"Hello {number}"
        )
    Article.objects.create(ticket=tickets["1002"], sender="agent", author="agent", body="INTERNAL NOTE",
                           visible_to_customer=False)  # fmt: skip
    return queues


def log_in(client, login="dana"):
    return client.post(reverse("portal:login"), {"login": login, "password": "Orchid-4-" + login[::-1]})


def test_root_is_the_login_form_and_login_rotates_the_session(client, world):
    page = client.get("/")
    assert page.status_code == 200
    assert b"Log in" in page.content
    client.get("/")
    before = client.session.session_key
    assert log_in(client).status_code == 302
    assert client.session.session_key != before
    assert client.get("/").url == reverse("portal:tickets")
    client.post(reverse("portal:logout"))
    assert client.get(reverse("portal:tickets")).status_code == 302


def test_a_wrong_password_is_refused_without_saying_which_part(client, world):
    response = client.post(reverse("portal:login"), {"login": "dana", "password": "nope"})
    assert response.status_code == 401
    assert b"the login or the password is wrong" in response.content


def test_my_and_company_tickets_and_no_internal_articles(client, world):
    log_in(client)
    mine = client.get(reverse("portal:tickets"), {"scope": "mine"}).context["page"]
    company = client.get(reverse("portal:tickets"), {"scope": "company"}).context["page"]
    assert [t.number for t in mine.rows] == ["1001"]
    assert sorted(t.number for t in company.rows) == ["1002", "1004"]
    page = client.get(reverse("portal:ticket", args=["1002"]))
    assert b"Hello 1002" in page.content
    assert b"INTERNAL NOTE" not in page.content


def test_another_companys_ticket_is_not_found(client, world):
    log_in(client)
    assert client.get(reverse("portal:ticket", args=["1003"])).status_code == 404
    assert client.post(reverse("portal:ticket", args=["1003"]), {"body": "let me in"}).status_code == 404
    assert not Article.objects.filter(body="let me in").exists()


def test_reply_needs_rw(client, world):
    log_in(client)
    assert client.post(reverse("portal:ticket", args=["1002"]), {"body": "Any news?"}).status_code == 302
    assert Article.objects.filter(ticket__number="1002", body="Any news?", sender="customer").exists()
    readonly = client.get(reverse("portal:ticket", args=["1004"]))
    assert readonly.context["can_reply"] is False
    refused = client.post(reverse("portal:ticket", args=["1004"]), {"body": "sneaky"})
    assert refused.status_code == 400
    assert not Article.objects.filter(body="sneaky").exists()


def test_new_tickets_only_in_allowed_queues_even_when_forged(client, world):
    """R116 with `create`; R160 copies the mapped customer-user attributes into dynamic fields."""
    log_in(client)
    form = client.get(reverse("portal:new_ticket"))
    assert [q.name for q in form.context["queues"]] == ["Support queue"]
    created = client.post(reverse("portal:new_ticket"), {"queue": world["support"].pk, "title": "Printer",
                                                         "body": "It is on fire."})  # fmt: skip
    assert created.status_code == 302
    ticket = Ticket.objects.get(title="Printer")
    assert (ticket.customer_user_login, ticket.customer_id) == ("dana", "ACME")
    assert ticket.dynamic_fields == {"CustomerCompany": "ACME", "CustomerMail": "dana@example.com"}
    forged = client.post(reverse("portal:new_ticket"), {"queue": world["billing"].pk, "title": "Forged",
                                                        "body": "x"})  # fmt: skip
    assert forged.status_code == 400
    assert forged.context["errors"]["queue"] == ["You cannot open tickets in this queue."]
    readonly = client.post(
        reverse("portal:new_ticket"), {"queue": world["readonly"].pk, "title": "RO", "body": "x"}
    )
    assert readonly.status_code == 400
    assert not Ticket.objects.filter(title__in=["Forged", "RO"]).exists()


def test_preferences_language_and_password(client, world):
    log_in(client)
    client.post(reverse("portal:preferences"), {"form": "language", "language": "de"})
    assert CustomerUserPreference.objects.get(login="dana", key="UserLanguage").value == "de"
    wrong = client.post(reverse("portal:preferences"), {"form": "password", "old_password": "bad",
                                                        "new_password": "n1", "new_password_again": "n1"})  # fmt: skip
    assert wrong.context["errors"] == {"old_password": ["Das aktuelle Passwort stimmt nicht."]}  # in de now
    client.post(reverse("portal:preferences"), {"form": "password", "old_password": "Orchid-4-anad",
                                                "new_password": "fresh one", "new_password_again": "fresh one"})  # fmt: skip
    client.post(reverse("portal:logout"))
    assert client.post(reverse("portal:login"), {"login": "dana", "password": "fresh one"}).status_code == 302


def test_an_invalidated_customer_is_logged_out_at_the_next_click(client, world):
    log_in(client)
    CustomerUser.objects.filter(login="dana").update(validity=2)
    assert client.get(reverse("portal:tickets")).url == reverse("portal:login")


def test_a_new_customer_user_on_a_ticket_brings_their_attributes(world):
    """R160, when an agent changes the ticket's customer user."""
    from tickets.services import set_ticket_customer

    ticket = Ticket.objects.get(number="1002")
    set_ticket_customer(ticket=ticket, login="STRANGER")
    ticket.refresh_from_db()
    assert (ticket.customer_user_login, ticket.customer_id) == ("stranger", "OTHER")
    assert ticket.dynamic_fields == {"CustomerCompany": "OTHER", "CustomerMail": "stranger@example.com"}


def test_sessions_live_in_the_database_and_expire(client, world, settings):
    """Database sessions survive a restart of the app; they end after HELPDESK_SESSION_AGE."""
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    settings.SESSION_COOKIE_AGE = 600
    log_in(client)
    stored = Session.objects.get(session_key=client.session.session_key)
    assert stored.get_decoded()["customer_user_login"] == "dana"
    assert abs(stored.expire_date - (timezone.now() + timedelta(seconds=600))) < timedelta(seconds=30)
    Session.objects.filter(pk=stored.pk).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get(reverse("portal:tickets")).url == reverse("portal:login")


def test_nul_characters_in_the_login_form_and_the_search_are_plain_misses(client, world):
    assert (
        client.post(reverse("portal:login"), {"login": "dana\x00", "password": "Orchid-4-anad"}).status_code
        == 401
    )
    log_in(client)
    page = client.get(reverse("portal:tickets"), {"scope": "all", "q": "Ticket\x00"})
    assert (page.status_code, page.context["page"].total) == (200, 0)
