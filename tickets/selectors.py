"""Reads of tickets: what a customer user may list and open (through permissions.tickets), and what
agents see of a customer or a customer user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from backends.registry import SourceHandler, sources
from core.errors import NotFound
from permissions.tickets import creatable_queue_groups, ticket_access
from tickets.models import Article, Attachment, Queue, Ticket

ORDERINGS = {
    "created": "created_at",
    "-created": "-created_at",
    "changed": "changed_at",
    "-changed": "-changed_at",
    "number": "number",
    "-number": "-number",
    "title": "title",
    "-title": "-title",
    "state": "state",
    "-state": "-state",
}
SCOPES = ("mine", "company", "all")


@dataclass(frozen=True)
class TicketPage:
    rows: list[Ticket]
    total: int
    page: int
    pages: int
    scope: str
    order: str


def customer_tickets(login: str, permission: str = "ro", *, registry: SourceHandler = sources) -> QuerySet:
    access = ticket_access(login, permission, registry=registry)
    if access is None:
        return Ticket.objects.none()
    return access.tickets(Ticket.objects.select_related("queue", "service"))


def list_customer_tickets(
    login: str,
    *,
    scope: str = "all",
    search: str = "",
    order: str = "-created",
    page: int = 1,
    per_page: int = 25,
    registry: SourceHandler = sources,
) -> TicketPage:
    """My tickets (`mine`), my company's (`company`: visible, not mine) or both, paged and sorted."""
    if scope not in SCOPES:
        raise NotFound(detail=_("There is no ticket list %(scope)r.") % {"scope": scope})
    order = order if order in ORDERINGS else "-created"
    tickets = customer_tickets(login, registry=registry)
    if scope != "all":
        mine = Q(login_ci=login.lower())
        tickets = tickets.filter(mine) if scope == "mine" else tickets.exclude(mine)
    if "\x00" in search:
        tickets = tickets.none()  # no title holds NUL (and PostgreSQL refuses it in a query)
    elif search.strip():
        term = search.strip()
        tickets = tickets.filter(Q(number__startswith=term) | Q(title__icontains=term))
    paginator = Paginator(tickets.order_by(ORDERINGS[order], "-pk"), per_page)
    current = paginator.get_page(page)
    return TicketPage(
        list(current.object_list), paginator.count, current.number, paginator.num_pages, scope, order
    )


def get_customer_ticket(
    login: str, number: str, *, registry: SourceHandler = sources
) -> tuple[Ticket, list[Article]]:
    """The ticket and its articles a customer may see; anything else is "not found", never the ticket."""
    ticket = customer_tickets(login, registry=registry).filter(number=number).first()
    if ticket is None:
        raise NotFound(detail=_("There is no ticket %(number)r.") % {"number": number})
    return ticket, list(ticket.articles.filter(visible_to_customer=True).prefetch_related("attachments"))


def customer_attachment(
    login: str, number: str, attachment_id: Any, *, registry: SourceHandler = sources
) -> Attachment:
    """A file of a ticket the customer may read, on an article shown to them; else "not found" (one query,
    the ticket's permission and the file's together)."""
    found = Attachment.objects.filter(
        pk=int(attachment_id) if str(attachment_id).isdigit() else 0,
        article__ticket__in=customer_tickets(login, registry=registry).filter(number=number),
        article__visible_to_customer=True,
    ).first()  # fmt: skip
    if found is None:
        raise NotFound(detail=_("There is no such file on ticket %(number)r.") % {"number": number})
    return found


def get_attachment(attachment_id: int) -> Attachment:
    """A file of any ticket, for staff who may read tickets (the admin's article list)."""
    found = Attachment.objects.filter(pk=attachment_id).first()
    if found is None:
        raise NotFound(detail=_("There is no such file."))
    return found


def can_reply(login: str, ticket: Ticket, *, registry: SourceHandler = sources) -> bool:
    return customer_tickets(login, "rw", registry=registry).filter(pk=ticket.pk).exists()


def list_creatable_queues(login: str, *, registry: SourceHandler = sources) -> QuerySet:
    groups = creatable_queue_groups(login, registry=registry)
    queues = Queue.objects.filter(validity=1, group__validity=1)
    return queues if groups is None else queues.filter(group__name__in=groups)


# --------------------------------------------------------------------------------------- agents
def company_tickets(customer_id: str, *, closed: bool | None = None) -> QuerySet:
    """A company's tickets, newest first, as agents see them; `closed` picks closed or open ones."""
    found = Ticket.objects.alias(customer_id_ci=Lower("customer_id")).filter(
        customer_id_ci=customer_id.lower()
    )
    if closed is not None:
        is_closed = Q(state=Ticket.State.CLOSED)
        found = found.filter(is_closed if closed else ~is_closed)
    return found.select_related("queue").order_by("-created_at")


def ticket_counts_by_state(customer_id: str) -> list[tuple[str, int]]:
    """How many tickets of the company are in each state (in words), in the states' own order."""
    counts = dict(
        company_tickets(customer_id)
        .order_by()
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return [(str(label), counts[value]) for value, label in Ticket.State.choices if counts.get(value)]


def list_company_tickets(customer_id: str, *, limit: int = 50) -> list[Ticket]:
    return list(company_tickets(customer_id)[:limit])


def list_customer_user_tickets(login: str, *, limit: int = 50) -> list[Ticket]:
    return list(
        Ticket.objects.alias(login_ci=Lower("customer_user_login"))
        .filter(login_ci=login.lower())
        .select_related("queue")
        .order_by("-created_at")[:limit]
    )


def tickets_of_person(login: str) -> list[dict]:
    """A customer user's tickets with their articles, and the articles they wrote in other tickets: what a
    data export holds (privacy.services)."""

    def article(a: Article) -> dict:
        files = [{"name": f.filename, "type": f.content_type, "size": f.size} for f in a.attachments.all()]
        return {"ticket": a.ticket.number, "sender": a.sender, "author": a.author, "body": a.body,
                "created": a.created_at.isoformat(), "files": files}  # fmt: skip

    in_order = Article.objects.order_by("pk").prefetch_related("attachments")
    own = list(
        Ticket.objects.filter(customer_user_login__ci=login)
        .prefetch_related(Prefetch("articles", queryset=in_order))
        .order_by("pk")
    )  # three queries, whatever the number of tickets, articles and files
    exported = [
        {"number": t.number, "title": t.title, "customer_id": t.customer_id, "state": t.state,
         "created": t.created_at.isoformat(), "dynamic_fields": t.dynamic_fields,
         "articles": [article(a) for a in t.articles.all()]}
        for t in own
    ]  # fmt: skip
    elsewhere = list(in_order.filter(author__iexact=login).exclude(ticket__in=own).select_related("ticket"))
    if elsewhere:
        exported.append({"articles in other tickets": [article(a) for a in elsewhere]})
    return exported
