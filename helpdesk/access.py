"""Which staff user may open which screen and call which endpoint: Django's permissions, one rule for the
admin's screens and the API alike.

A screen or an endpoint declares what it needs as `Needs`: the permissions to read it, and those to
change what it shows. Reading needs `read`; any other method needs `read` and `write`. Superusers have
every permission; a staff user has what their groups (`Customer administrators`, `Agents`: see
`staff/roles.py`) and their own permissions give. The README's table lists every screen and endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

# The permissions that belong to no model's add / change / view (declared in the models' Meta).
CHANGE_GROUP_PERMISSIONS = "customers.change_group_permissions"
CHANGE_RELATIONS = "customers.change_customeruser_relations"
SET_PASSWORD = "customers.set_customeruser_password"
VIEW_SOURCES = "customers.view_sources"
VIEW_HISTORY = "core.view_historyentry"  # the audit log of every change (core.history)
ANONYMISE = "customers.anonymise_customeruser"  # erase a person (GDPR Art. 17): customer administrators
EXPORT_PERSON = "customers.export_customeruser"  # everything held about a person (Art. 15, 20): the same
CHANGE_DEFAULTS = "permissions.change_defaults"


@dataclass(frozen=True)
class Needs:
    read: tuple[str, ...]
    write: tuple[str, ...] = ()

    def of(self, method: str) -> tuple[str, ...]:
        return self.read if method in SAFE_METHODS else self.read + self.write

    def allow(self, user, method: str) -> bool:
        return bool(user is not None and user.is_active and user.is_staff and user.has_perms(self.of(method)))


STAFF = Needs(read=())  # any active staff user: the API's schema and docs


def needs(read: str | tuple[str, ...], write: str | tuple[str, ...] = ()) -> Needs:
    return Needs(_names(read), _names(write))


def _names(names: str | tuple[str, ...]) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else tuple(names)


def screen(view: Callable, required: Needs) -> Callable:
    """An admin screen that answers Django's permission-denied page (403) without `required`."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not required.allow(request.user, request.method):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    guarded.needs = required
    return guarded


class StaffPermission(BasePermission):
    """DRF: the view's `needs`; a view that declares none is refused to everyone (fail closed), as is a
    staff user without what it needs; refusals are the API's usual 403."""

    message = "You do not have permission to perform this action."

    def has_permission(self, request, view) -> bool:
        required: Needs | None = getattr(view, "needs", None)
        if not isinstance(required, Needs):
            self.message = "This endpoint declares no permissions, so nobody may use it."
            return False
        if required.allow(request.user, request.method):
            return True
        if request.user and request.user.is_authenticated:
            missing = [p for p in required.of(request.method) if not request.user.has_perm(p)]
            self.message = (
                f"Staff users need {', '.join(missing)} for {request.method} here."
                if missing and request.user.is_staff
                else "Only staff users may use the API."
            )
        return False
