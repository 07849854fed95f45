"""Which tickets a customer user lists and opens (R115–R120), for users of each source type and every
combination of the company-ticket settings, checked against a plain transcription of the rules."""

import itertools

import pytest

from core.errors import NotFound
from customers.models import (
    Customer,
    CustomerGroup,
    CustomerUser,
    CustomerUserCustomer,
    CustomerUserGroup,
    Group,
)
from tickets.models import Queue, Ticket
from tickets.selectors import get_customer_ticket, list_customer_tickets

pytestmark = [pytest.mark.django_db]

COMBINATIONS = list(itertools.product(("DB", "LDAP"), (0, 1), (0, 1), (0, 1)))


def expected_numbers(tickets, *, login, primary, legacy, additional, exclude, disable, group_support,
                     user_groups, other_context):  # fmt: skip
    """R115: GroupCheck required; then own login (R117), company ids (R118), Other context (R119).

    `other_context` is {customer ID: groups it holds ro on in the Other context}; only the user's own
    customer IDs (CustomerIDs(U), without the primary one when it is excluded) count.
    """
    company = ([] if exclude else [primary]) + legacy + additional
    other_groups = {g for cid, groups in other_context.items() if cid in company for g in groups}
    visible = set()
    for number, group, customer_id, owner in tickets:
        if group_support and group not in user_groups:
            continue
        if (
            owner.lower() == login.lower()
            or (not disable and customer_id.lower() in {c.lower() for c in company})
            or (not disable and group_support and customer_id and group in other_groups)
        ):
            visible.add(number)
    return visible


@pytest.mark.parametrize(("kind", "exclude", "disable", "group_support"), COMBINATIONS,
                         ids=[f"{k}-exclude{e}-disable{d}-groups{g}" for k, e, d, g in COMBINATIONS])  # fmt: skip
def test_listed_and_openable_tickets(
    request, settings, db_source_settings, kind, exclude, disable, group_support
):
    overrides = {
        "CustomerUserExcludePrimaryCustomerID": exclude,
        "CustomerGroupSupport": group_support,
        "CacheTTL": 0,
    }
    if kind == "DB":
        settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(**overrides)}
        login, primary, legacy = "dana", "ACME", []
        Customer.objects.create(customer_id="ACME", name="Acme")
        CustomerUser.objects.create(login="dana", customer_id="ACME", email="dana@example.com", first_name="D",
                                    last_name="A")  # fmt: skip
    else:
        request.getfixturevalue("slapd")
        ldap_source_settings = request.getfixturevalue("ldap_source_settings")
        settings.CUSTOMER_USER_BACKENDS = {"CustomerUser1": ldap_source_settings(**overrides)}
        login, primary, legacy = "person0000", "LDAP-00", ["LDAP-03", "LDAP-10"]  # businessCategory values
    settings.HELPDESK_SETTINGS = {**settings.HELPDESK_SETTINGS, "CustomerDisableCompanyTicketAccess": disable,
                                  "CustomerGroupAlwaysGroups": [], "CustomerGroupCompanyAlwaysGroups": []}  # fmt: skip

    groups = {name: Group.objects.create(name=name) for name in ("support", "sales", "secret")}
    queues = {name: Queue.objects.create(name=f"{name} queue", group=group) for name, group in groups.items()}
    for cid in ("BETA", "GAMMA", "DELTA", primary, *legacy):
        Customer.objects.get_or_create(customer_id=cid, defaults={"name": cid})
    CustomerUserCustomer.objects.create(login=login, customer_id="BETA")
    for name in ("support", "sales"):
        CustomerUserGroup.objects.create(login=login, group=groups[name], permission="ro")
    CustomerGroup.objects.create(customer_id=primary, group=groups["sales"], permission="ro",
                                 context=CustomerGroup.OTHER)  # fmt: skip

    tickets = [
        ("T1", "support", primary, login.upper()),  # own (R117, case-insensitive)
        ("T2", "support", primary.lower(), "colleague"),  # primary company, other case (R118)
        ("T3", "support", "BETA", "colleague"),  # additional company
        ("T4", "sales", "GAMMA", "stranger"),  # Other context (R119)
        ("T5", "secret", primary, "colleague"),  # no permission on the queue's group (R116)
        ("T6", "support", "DELTA", "stranger"),  # nobody's business
        ("T7", "support", legacy[0] if legacy else "DELTA", "colleague"),  # legacy UserCustomerIDs (R61)
    ]
    for number, group, customer_id, owner in tickets:
        Ticket.objects.create(number=number, title=number, queue=queues[group], customer_id=customer_id,
                              customer_user_login=owner)  # fmt: skip

    expected = expected_numbers(
        tickets, login=login, primary=primary, legacy=legacy, additional=["BETA"], exclude=exclude,
        disable=disable, group_support=group_support, user_groups={"support", "sales"}, other_context={primary: {"sales"}},
    )  # fmt: skip
    listed = {t.number for t in list_customer_tickets(login, scope="all", per_page=100).rows}
    assert listed == expected
    mine = {t.number for t in list_customer_tickets(login, scope="mine", per_page=100).rows}
    company = {t.number for t in list_customer_tickets(login, scope="company", per_page=100).rows}
    assert (mine, company) == ({"T1"} & expected, expected - {"T1"})
    for number, *_ in tickets:
        if number in expected:
            assert get_customer_ticket(login, number)[0].number == number
        else:
            with pytest.raises(NotFound):
                get_customer_ticket(login, number)
