"""The audit log: every change (core.history), filtered by actor, object, action and date; read-only."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
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
    list_display = ["at", "actor_name", "path", "what"]  # the sentence names the action and the object
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

    list_display_links = None  # an entry is read, never edited: its sentence is the row

    @admin.display(description=_("what"))
    def what(self, entry: HistoryEntry) -> str:
        return describe(entry)


OBJECT_SCREENS = {  # where an entry's object is shown, for the link in its sentence
    "customer_user": lambda key: reverse("admin:customer_user_change", args=[key]),
    "customer": lambda key: reverse("admin:information_center_customer", args=[key]),
}
RELATIONS = {  # relation actions: what their granted/revoked items are
    "group_permission": _("groups"), "customer_group": _("groups"), "customer_user_customer": _("customers"),
    "customer_user_service": _("services"), "default_service": _("default services"),
}  # fmt: skip


SYNC_CHANGES = {  # what a directory sync did to a customer user (customers.sync)
    "added": _("added"), "changed": _("changed"), "renamed": _("renamed"), "disabled": _("disabled"),
    "enabled": _("enabled again"), "gone": _("gone from the directory"),
}  # fmt: skip


def describe(entry: HistoryEntry) -> str:
    """The entry in words, with its object linked: "gave anna: billing rw; took: support ro",
    "changed UserLastname of anna (Alt → Neu)", "created customer ACME"."""
    kind, _dot, verb = entry.action.partition(".")
    key = entry.object_key
    link = OBJECT_SCREENS.get(entry.object_type)
    try:
        shown = format_html('<a href="{}">{}</a>', link(key), key) if link and key else key
    except NoReverseMatch:
        shown = key
    detail = entry.detail or {}
    if kind in RELATIONS and ("granted" in detail or "revoked" in detail or "groups" in detail):
        gave = [item.replace(":", " ") for item in detail.get("granted") or detail.get("groups") or []]
        took = [item.replace(":", " ") for item in detail.get("revoked") or []]
        if verb == "revoked":
            gave, took = [], gave
        parts = []
        if gave:
            parts.append(format_html("{} {}: {}", _("gave"), shown, ", ".join(gave)))
        if took:
            parts.append(format_html("{} {}: {}", _("took from"), shown, ", ".join(took)))
        if not parts:
            return format_html("{} {} ({})", _("kept"), shown, _("nothing changed"))
        return mark_safe("; ".join(parts))
    changes = detail.get("changes") or {}
    if entry.action == "customer_user.synced":  # "sync run 412 of CustomerUser1: gone anna (invalid since …)"
        change = SYNC_CHANGES.get(detail.get("change"), detail.get("change", ""))
        why = detail.get("reason") or detail.get("rule", "")
        if detail.get("was"):
            why = f"{_('was')} {detail['was']}"
        listed = "".join(f"; {name}: {old!s} → {new!s}" for name, (old, new) in changes.items())
        run, source = detail.get("run", ""), detail.get("source", "")
        said = (_("sync run"), run, _("of"), source, change, shown, why, listed)
        return format_html("{} {} {} {}: {} {} ({}{})", *said)
    if changes:
        listed = "; ".join(f"{name}: {old!s} → {new!s}" for name, (old, new) in changes.items())
        action = _("created") if verb == "created" else _("changed")
        return format_html("{} {} {} ({})", action, entry.object_type.replace("_", " "), shown, listed)
    words = entry.action.replace("_", " ").replace(".", ": ")
    rest = ", ".join(f"{k}: {v}" for k, v in detail.items() if k not in ("keys",))
    return format_html("{} — {}{}", words, shown, f" ({rest})" if rest else "")


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
