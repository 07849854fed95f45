"""Demo queues and tickets for the customer panel; loading twice changes nothing."""

from __future__ import annotations

from django.db import transaction

from customers.models import CustomerUser, Group
from tickets.models import Article, Queue, Ticket

QUEUES = [("Support", "support"), ("Billing", "billing"), ("Projects", "projects")]
TITLES = [
    "VPN drops every hour",
    "Invoice 2026-114 is missing",
    "New office printer",
    "Password reset",
    "Mailbox quota exceeded",
    "Project kick-off dates",
]


@transaction.atomic
def load_demo_tickets() -> int:
    """Queues for the demo groups and a few tickets of the first demo customers; return tickets created."""
    queues = []
    for name, group in QUEUES:
        group_obj = Group.objects.filter(name=group).first()
        if group_obj is not None:
            queues.append(Queue.objects.get_or_create(name=name, defaults={"group": group_obj})[0])
    if not queues or Ticket.objects.exists():
        return 0
    users = list(CustomerUser.objects.filter(validity=1).order_by("pk")[:8])
    created = 0
    for n, user in enumerate(users):
        ticket = Ticket.objects.create(
            number=f"2026{n + 1:08d}",
            title=TITLES[n % len(TITLES)],
            queue=queues[n % len(queues)],
            customer_id=user.customer_id,
            customer_user_login=user.login,
        )
        Article.objects.create(
            ticket=ticket,
            sender="customer",
            author=user.login,
            body=f"Hello, {TITLES[n % len(TITLES)].lower()}. Can you help?",
        )
        Article.objects.create(ticket=ticket, sender="agent", author="agent", body="We are on it.")
        created += 1
    return created
