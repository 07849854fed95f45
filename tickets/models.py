"""Tickets, minimal but real: enough for the customer panel and the agents' company view (R115–R121, R160)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from customers.models import Group, Service, Validity


class Queue(models.Model):
    """Tickets live in queues; a queue belongs to a group, whose permissions decide who sees it (R116)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="queues")
    validity = models.PositiveSmallIntegerField(
        _("validity"), choices=Validity.choices, default=Validity.VALID
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    class State(models.TextChoices):
        NEW = "new", _("new")
        OPEN = "open", _("open")
        PENDING = "pending", _("pending")
        CLOSED = "closed", _("closed")

    class Priority(models.IntegerChoices):
        VERY_LOW = 1, _("1 very low")
        LOW = 2, _("2 low")
        NORMAL = 3, _("3 normal")
        HIGH = 4, _("4 high")
        VERY_HIGH = 5, _("5 very high")

    number = models.CharField(_("number"), max_length=30, unique=True)
    title = models.CharField(_("title"), max_length=255)
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="tickets")
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.NEW)
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets"
    )
    customer_id = models.CharField(_("customer ID"), max_length=150, blank=True)
    customer_user_login = models.CharField(_("customer user"), max_length=191, blank=True)
    dynamic_fields = models.JSONField(_("dynamic fields"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    changed_at = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(Lower("customer_user_login"), name="ticket_lower_customer_user"),
            models.Index(Lower("customer_id"), "created_at", name="ticket_lower_customer_created"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class Article(models.Model):
    class Sender(models.TextChoices):
        CUSTOMER = "customer", _("customer")
        AGENT = "agent", _("agent")
        SYSTEM = "system", _("system")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="articles")
    sender = models.CharField(_("sender"), max_length=20, choices=Sender.choices)
    author = models.CharField(_("author"), max_length=191)
    body = models.TextField(_("body"))
    visible_to_customer = models.BooleanField(_("visible to the customer"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")  # fmt: skip

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.author} at {self.created_at:%Y-%m-%d %H:%M}"


class Attachment(models.Model):
    """A file a customer attached to an article, kept by Django's default storage (tickets.attachments)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to="attachments/%Y/%m/")
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.filename
