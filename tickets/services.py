"""Writes of tickets: customers open and answer them; mapped customer-user attributes are copied into a
ticket's dynamic fields when it is created or its customer user changes (R160)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from backends.registry import SourceHandler, sources
from core.errors import NotFound, ValidationFailed
from customers.selectors import get_customer_user
from permissions.company_tickets import list_customer_user_services
from tickets.attachments import attachment_problems
from tickets.attachments import keep as keep_attachments
from tickets.models import Article, Attachment, Ticket
from tickets.selectors import can_reply, customer_tickets, list_creatable_queues

logger = logging.getLogger(__name__)

TITLE_MAX = 255
BODY_MAX = 100_000


def copy_customer_user_fields(ticket: Ticket, *, registry: SourceHandler = sources) -> None:
    """R160: `DynamicFieldFromCustomerUserMapping` {user attribute: dynamic field} into the ticket."""
    mapping = settings.HELPDESK_SETTINGS.get("DynamicFieldFromCustomerUserMapping") or {}
    if not mapping or not ticket.customer_user_login:
        return
    record = get_customer_user(ticket.customer_user_login, registry=registry)
    if record is None:
        return
    for attribute, field in mapping.items():
        value = record.get(attribute)
        ticket.dynamic_fields[field] = "" if value is None else str(value)


def _check_text(errors: dict[str, list[str]], field: str, value: str, label: str, maximum: int) -> str:
    text = (value or "").strip()
    if not text:
        errors.setdefault(field, []).append(_("%(field)s is required.") % {"field": label})
    elif len(text) > maximum:
        errors.setdefault(field, []).append(
            _("%(field)s has %(length)d characters; at most %(maximum)d are allowed.")
            % {"field": label, "length": len(text), "maximum": maximum}
        )
    elif "\x00" in text:
        errors.setdefault(field, []).append(
            _("%(field)s must not contain NUL characters.") % {"field": label}
        )
    return text


@transaction.atomic
def create_customer_ticket(
    *,
    login: str,
    queue_id: Any,
    title: str,
    body: str,
    service: str = "",
    attachments: Iterable[Any] = (),
    registry: SourceHandler = sources,
) -> Ticket:
    """A customer opens a ticket: only into a queue where they hold `create` (or rw), only with a service
    they may use (R116, R130); anything else is refused naming the field, and nothing is written."""
    record = get_customer_user(login, registry=registry, enrich=False)
    if record is None:
        raise NotFound(detail=_("There is no customer user %(login)r.") % {"login": login})
    errors: dict[str, list[str]] = {}
    title = _check_text(errors, "title", title, _("The title"), TITLE_MAX)
    body = _check_text(errors, "body", body, _("The text"), BODY_MAX)
    queue = list_creatable_queues(login, registry=registry).filter(pk=_int_or_none(queue_id)).first()
    if queue is None:
        errors.setdefault("queue", []).append(_("You cannot open tickets in this queue."))
    service_obj = None
    if service:
        allowed = list_customer_user_services(record.login, registry=registry)
        if service not in allowed:
            errors.setdefault("service", []).append(
                _("You cannot use the service %(service)r.") % {"service": service}
            )
        else:
            from customers.models import Service

            service_obj = Service.objects.get(name=service)
    attachments = list(attachments)
    if problems := attachment_problems(attachments):
        errors["attachments"] = problems
    if errors:
        raise ValidationFailed(
            errors,
            detail=_("The ticket was not opened: %(reasons)s")
            % {"reasons": " ".join(m for v in errors.values() for m in v)},
        )
    ticket = Ticket.objects.create(
        number=f"tmp-{timezone.now().timestamp()}",
        title=title,
        queue=queue,
        service=service_obj,
        customer_id=record.customer_id,
        customer_user_login=record.login,
    )
    ticket.number = f"{ticket.created_at:%Y%m%d}{ticket.pk:08d}"
    copy_customer_user_fields(ticket, registry=registry)
    ticket.save(update_fields=["number", "dynamic_fields"])
    article = Article.objects.create(
        ticket=ticket, sender=Article.Sender.CUSTOMER, author=record.login, body=body
    )
    keep_attachments(article, attachments)
    logger.info("ticket %s opened by customer user %s in %s", ticket.number, record.login, queue.name)
    return ticket


def _ticket_to_write(login: str, number: str, registry: SourceHandler, field: str, refusal: str) -> Ticket:
    """The customer's ticket, locked for the write, if they hold rw on it; "not found" if they may not even
    read it (never the ticket), `refusal` on `field` if they may only read it."""
    ticket = (
        customer_tickets(login, registry=registry)
        .select_for_update(of=("self",))
        .filter(number=number)
        .first()
    )
    if ticket is None:
        raise NotFound(detail=_("There is no ticket %(number)r.") % {"number": number})
    if not can_reply(login, ticket, registry=registry):
        raise ValidationFailed({field: [refusal]}, detail=refusal)
    return ticket


@transaction.atomic
def reply_as_customer(
    *, login: str, number: str, body: str, attachments: Iterable[Any] = (), registry: SourceHandler = sources
) -> Article:
    """A follow-up from the customer: needs rw on the ticket (R115 with type rw); reopens a closed ticket."""
    refusal = _("You may read this ticket but not answer it.")
    ticket = _ticket_to_write(login, number, registry, "body", refusal)
    errors: dict[str, list[str]] = {}
    text = _check_text(errors, "body", body, _("The text"), BODY_MAX)
    attachments = list(attachments)
    if problems := attachment_problems(attachments):
        errors["attachments"] = problems
    if errors:
        raise ValidationFailed(errors, detail=" ".join(m for v in errors.values() for m in v))
    article = Article.objects.create(ticket=ticket, sender=Article.Sender.CUSTOMER, author=login, body=text)
    keep_attachments(article, attachments)
    if ticket.state in (Ticket.State.CLOSED, Ticket.State.PENDING):
        ticket.state = Ticket.State.OPEN
    ticket.save(update_fields=["state", "changed_at"])
    return article


@transaction.atomic
def close_as_customer(*, login: str, number: str, registry: SourceHandler = sources) -> Ticket:
    """The customer closes their ticket (solved, or no longer needed): needs rw on it, as an answer does."""
    refusal = _("You may read this ticket but not close it.")
    ticket = _ticket_to_write(login, number, registry, "state", refusal)
    if ticket.state != Ticket.State.CLOSED:
        ticket.state = Ticket.State.CLOSED
        ticket.save(update_fields=["state", "changed_at"])
        Article.objects.create(ticket=ticket, sender=Article.Sender.CUSTOMER, author=login,
                               body=_("Closed by the customer."))  # fmt: skip
        logger.info("ticket %s closed by customer user %s", ticket.number, login)
    return ticket


@transaction.atomic
def set_ticket_customer(
    *, ticket: Ticket, login: str, customer_id: str | None = None, registry: SourceHandler = sources
) -> Ticket:
    """An agent changes the ticket's customer user; the mapped attributes follow (R160)."""
    record = get_customer_user(login, registry=registry, enrich=False)
    if record is None:
        raise ValidationFailed(
            {"customer_user_login": [_("No customer user %(login)r.") % {"login": login}]},
            detail=_("No customer user %(login)r.") % {"login": login},
        )
    ticket.customer_user_login = record.login
    ticket.customer_id = customer_id if customer_id is not None else record.customer_id
    copy_customer_user_fields(ticket, registry=registry)
    ticket.save()
    return ticket


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def follow_login_rename(*, old_login: str, new_login: str, **kwargs: Any) -> None:
    """R121: a renamed customer user keeps their tickets (sent inside the rename's transaction)."""
    moved = Ticket.objects.filter(customer_user_login__ci=old_login).update(customer_user_login=new_login)
    logger.info("%d tickets of customer user %s moved to %s", moved, old_login, new_login)


def follow_customer_id_rename(*, old_id: str, new_id: str, **kwargs: Any) -> None:
    """R121: a renamed customer keeps its company tickets (sent inside the rename's transaction)."""
    moved = Ticket.objects.filter(customer_id__ci=old_id).update(customer_id=new_id)
    logger.info("%d tickets of customer %s moved to %s", moved, old_id, new_id)


@transaction.atomic
def anonymise_tickets(login: str, new_login: str, personal: list[str]) -> int:
    """A person's tickets stay, without their personal data: every text of theirs that holds one of the
    `personal` values (names, e-mail, phone …) has it replaced, in titles, the customer fields copied into
    the ticket, and the articles they wrote; their articles are signed with the new login. Return how many
    tickets changed."""
    needles = sorted({p for p in personal if p and len(p) >= 2}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for needle in needles:
            text = re.sub(re.escape(needle), "[anonymised]", text, flags=re.IGNORECASE)
        return text

    tickets = list(Ticket.objects.select_for_update().filter(customer_user_login__ci=login))
    for ticket in tickets:
        ticket.title = scrub(ticket.title)
        ticket.dynamic_fields = {k: scrub(str(v)) for k, v in ticket.dynamic_fields.items()}
        ticket.save(update_fields=["title", "dynamic_fields", "changed_at"])
    for article in Article.objects.select_for_update().filter(
        Q(author__iexact=login) | Q(ticket__in=tickets)
    ):
        body = scrub(article.body)
        author = new_login if article.author.casefold() == login.casefold() else article.author
        if (body, author) != (article.body, article.author):
            article.body, article.author = body, author
            article.save(update_fields=["body", "author"])
    # The files they attached are theirs to erase: a file cannot be scrubbed of a name like a text.
    for attachment in Attachment.objects.filter(article__author__iexact=new_login):
        attachment.file.delete(save=False)
        attachment.delete()
    return len(tickets)
