from django.conf import settings
from django.db import models


class Generation(models.Model):
    """A number every write of `name` changes; cached answers carry it in their keys (core.generations)."""

    name = models.CharField(primary_key=True, max_length=100)
    value = models.BigIntegerField(default=1)

    class Meta:
        db_table = "helpdesk_generation"

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class HistoryEntry(models.Model):
    """One change to a customer, customer user, group, service, relation, setting or staff role: when,
    who, through which path, and what (core.history writes them; nothing else does)."""

    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # filtered by actor_name; an index here would cost every import row
    )
    actor_name = models.CharField(max_length=200)  # a staff user, customer:<login>, import, …
    path = models.CharField(max_length=20)  # admin | api | panel | command | system
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=40)
    object_key = models.CharField(max_length=200)
    detail = models.JSONField(default=dict)

    class Meta:
        db_table = "helpdesk_history"
        verbose_name = "history entry"
        verbose_name_plural = "history"
        ordering = ["-id"]  # newest first: ids grow with time, and the primary key orders them for free
        indexes = [models.Index(fields=["object_type", "object_key"], name="history_object")]

    def __str__(self) -> str:
        return (
            f"{self.at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_type} {self.object_key}"
        )


class RateCount(models.Model):
    """Requests of one key (a client address, a staff user) in one scope within the window that began at
    `started` (epoch seconds): core.rates counts them, one atomic statement per request."""

    scope = models.CharField(max_length=40)
    key = models.CharField(max_length=191)
    started = models.FloatField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "helpdesk_rate_count"
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="rate_count_unique")]
        indexes = [models.Index(fields=["scope", "started"], name="rate_count_started")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}: {self.count}"
