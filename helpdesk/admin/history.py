"""The audit log: every change (core.history), filtered by actor, object, action and date; read-only."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from core.history import history_of
from core.models import HistoryEntry


class AboutObject(admin.SimpleListFilter):
    """`?about=<object type>:<key>`: the entries `history_of` finds, the import batches that wrote the object
    included, as the API's history and the export show them."""

    title = _("object")
    parameter_name = "about"

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, value.partition(":")[2])] if value else []

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        object_type, _sep, key = self.value().partition(":")
        return queryset & history_of(object_type, key)


@admin.register(HistoryEntry)
class HistoryEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_name", "path", "action", "object_type", "object_key", "what"]
    list_filter = [AboutObject, "object_type", "path", "action", "actor_name"]
    date_hierarchy = "at"
    search_fields = ["object_key", "actor_name", "action"]
    list_per_page = 100
    show_full_result_count = False  # the log grows without bound: no COUNT(*) of all of it per page

    def lookup_allowed(self, lookup, value, request=None):
        if lookup in ("object_key__iexact", "object_key"):  # an object's History page
            return True
        return super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # retention removes entries (purge_history), nobody else

    @admin.display(description=_("what"))
    def what(self, entry: HistoryEntry) -> str:
        changes = entry.detail.get("changes")
        if changes:
            return format_html(
                "{}", "; ".join(f"{name}: {old!s} → {new!s}" for name, (old, new) in changes.items())
            )
        return format_html("{}", ", ".join(f"{k}: {v}" for k, v in entry.detail.items()))


def history_link(object_type: str, key: str) -> str:
    """The audit log filtered to one object: its History page."""
    query = urlencode({"about": f"{object_type}:{key}"})
    return f"{reverse('admin:core_historyentry_changelist')}?{query}"


class HistoryOfObject:
    """A ModelAdmin mixin: the change form's History button opens the object's entries of the one history."""

    history_object_type = ""

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        if not self.has_view_or_change_permission(request, obj):  # as Django's own history page refuses
            raise PermissionDenied
        key = getattr(obj, self.history_key) if obj is not None else object_id
        return HttpResponseRedirect(history_link(self.history_object_type, key))
