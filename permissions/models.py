"""Run-time permission settings an admin can change (their history is core.HistoryEntry)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PermissionSetting(models.Model):
    """One global option (`CustomerGroupAlwaysGroups`, …), seeded from HELPDESK_SETTINGS on first read."""

    key = models.CharField(_("key"), max_length=100, unique=True)
    value = models.JSONField(_("value"))
    changed_at = models.DateTimeField(auto_now=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("permission setting")
        permissions = [
            ("change_defaults", _("Can change the default groups and services and the run-time settings"))
        ]

    def __str__(self) -> str:
        return self.key
