"""Login locks: who is locked out (customer logins, staff accounts, client addresses, second-factor codes),
until when, and a "Lift the lock" action for Customer administrators, each lift a history entry."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers.authentication import lift_login_locks
from customers.models import LoginFailure


class LockedNow(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("locked", _("Locked now")), ("counting", _("Failures counted, not locked"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "locked":
            return queryset.filter(locked_until__gt=now)
        if self.value() == "counting":
            return queryset.exclude(locked_until__gt=now)
        return queryset


@admin.register(LoginFailure)
class LoginLockAdmin(admin.ModelAdmin):
    list_display = ["login", "source", "count", "last_failed_at", "locked_until", "locked_now"]
    list_filter = [LockedNow, "source"]
    search_fields = ["login"]
    ordering = ["-locked_until", "-last_failed_at"]
    actions = ["lift"]

    @admin.display(boolean=True, description=_("locked now"))
    def locked_now(self, failure: LoginFailure) -> bool:
        return failure.locked_until is not None and failure.locked_until > timezone.now()

    @admin.action(permissions=["change"], description=_("Lift the lock and forget the failures"))
    def lift(self, request, queryset):
        lifted = lift_login_locks(queryset.values_list("login", "source"), acting_user=request.user)
        message = ngettext("%(count)d lock lifted.", "%(count)d locks lifted.", lifted) % {"count": lifted}
        self.message_user(request, message, messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False  # failures are counted by logins, not typed in

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # lifting is the action, which the history records

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]
