"""The Customer Information Center, as agents of the reference know it: one search box that finds
customers and customer users together, and one page per customer (company) with its data, its customer
users from every source (paged), its open and closed tickets, its groups and services."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from core.errors import HelpdeskError
from customers.people_search import find_customer_users
from customers.selectors import (
    customer_group_permissions,
    get_customer,
    search_customer_users,
    search_customers,
    services_of,
)
from helpdesk.admin.customer_users import render_admin
from tickets.selectors import company_tickets, ticket_counts_by_state

FOUND = 25  # of each kind, for the search box
USERS_PER_PAGE = 50
USERS_AT_MOST = 1000  # customer users of one company listed (and paged) at most
TICKETS_PER_PAGE = 25


def information_center(request: HttpRequest) -> HttpResponse:
    """One search box over both kinds, FOUND of each per page: `page` goes on past the first."""
    term = request.GET.get("q", "").strip()
    number = max(_int(request.GET.get("page"), 1), 1)
    customers, customer_users, warnings, more_users = None, [], [], False
    if term:
        customers = Paginator(search_customers(term), FOUND).get_page(number)
        try:  # sources cannot skip rows: the first `number` pages are asked for, the last one shown
            page = find_customer_users(term, infix=True, valid_only=False, limit=FOUND * number + 1)
        except HelpdeskError as exc:
            warnings.append(exc.message)
        else:
            customer_users = page.rows[FOUND * (number - 1) : FOUND * number]
            more_users = len(page.rows) > FOUND * number or bool(page.truncated_sources)
            warnings = [f"{w.alias}: {w.message}" for w in page.warnings]
    return render_admin(
        request,
        "admin/information_center/search.html",
        _("Customer Information Center"),
        term=term,
        number=number,
        customers=customers,
        customer_users=customer_users,
        more=more_users or bool(customers and customers.has_next()),
        warnings=warnings,
    )


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or default)
    except ValueError:
        return default


def customer(request: HttpRequest, customer_id: str) -> HttpResponse:
    found = get_customer(customer_id)
    if found is None:
        raise Http404(_("There is no customer %(id)r.") % {"id": customer_id})
    users = search_customer_users(customer_id_raw=found.customer_id, valid_only=False, limit=USERS_AT_MOST)
    user_page = Paginator(users.rows, USERS_PER_PAGE).get_page(request.GET.get("users"))
    open_page = Paginator(company_tickets(found.customer_id, closed=False), TICKETS_PER_PAGE).get_page(
        request.GET.get("open")
    )
    closed_page = Paginator(company_tickets(found.customer_id, closed=True), TICKETS_PER_PAGE).get_page(
        request.GET.get("closed")
    )
    return render_admin(
        request,
        "admin/information_center/customer.html",
        f"{found.customer_id} — {found.name}",
        customer=found,
        users=users,
        user_page=user_page,
        open_page=open_page,
        closed_page=closed_page,
        groups=customer_group_permissions(found),
        ticket_states=ticket_counts_by_state(found.customer_id),
        services=services_of(record.login for record in users.rows),
        may_change=request.user.has_perm("customers.change_customer"),
    )
