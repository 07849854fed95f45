"""Which staff user may open which screen and call which endpoint: Django's permissions, one rule for the
admin's screens and the API alike.

A screen or an endpoint declares what it needs as `Needs`: the permissions to read it, and those to
change what it shows. Reading needs `read`; any other method needs `read` and `write`. Superusers have
every permission; a staff user has what their groups (`Customer administrators`, `Agents`: see
`staff/roles.py`) and their own permissions give. The README's table lists every screen and endpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.admin import AdminSite, ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseForbidden
from rest_framework.permissions import SAFE_METHODS, BasePermission

logger = logging.getLogger("helpdesk.access")

# The permissions that belong to no model's add / change / view (declared in the models' Meta).
CHANGE_GROUP_PERMISSIONS = "customers.change_group_permissions"
CHANGE_RELATIONS = "customers.change_customeruser_relations"
SET_PASSWORD = "customers.set_customeruser_password"
VIEW_SOURCES = "customers.view_sources"
VIEW_SYNC_RUNS = "backends.view_syncrun"  # a directory sync's runs (customers.sync)
RUN_SYNC = "backends.add_syncrun"  # start one (a job)
VIEW_HISTORY = "core.view_historyentry"  # the audit log of every change (core.history)
ANONYMISE = "customers.anonymise_customeruser"  # erase a person (GDPR Art. 17): customer administrators
EXPORT_PERSON = "customers.export_customeruser"  # everything held about a person (Art. 15, 20): the same
VIEW_PANEL_AS = "customers.view_panel_as_customeruser"  # the panel as the person sees it, read-only
CHANGE_DEFAULTS = "permissions.change_defaults"
VIEW_SCIM_CLIENTS = "provisioning.view_scimclient"  # identity providers' SCIM clients (provisioning)
ADD_SCIM_CLIENT = "provisioning.add_scimclient"
CHANGE_SCIM_CLIENT = "provisioning.change_scimclient"


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


# Who may open a page of the panel (and the open pages, /health/): anyone, or a logged-in customer user;
# the SCIM endpoints: a SCIM client, by its bearer token (helpdesk.scim.views), nobody else.
ANYONE, CUSTOMER, SCIM_CLIENT = "anyone", "customer", "scim-client"


def opens_to(who: str) -> Callable[[Callable], Callable]:
    """Declare a page of the panel: `ANYONE` or `CUSTOMER` (customer_required declares the latter)."""

    def declare(view: Callable) -> Callable:
        view.opens_to = who
        return view

    return declare


def declaration(view: Callable) -> object | None:
    """What a resolved view declares it needs: `Needs` (an API view, an admin screen), its ModelAdmin or
    AdminSite (Django's admin checks their permissions), `ANYONE` or `CUSTOMER` (the panel); None if it
    declares nothing — DeclaredRoutesMiddleware refuses it."""
    cls = getattr(view, "cls", None)
    if cls is not None:  # an API view: its class's `needs`
        return getattr(cls, "needs", None) if isinstance(getattr(cls, "needs", None), Needs) else None
    for attribute in ("needs", "model_admin", "admin_site", "opens_to"):
        if (declared := getattr(view, attribute, None)) is not None:
            return declared
    while hasattr(view, "__wrapped__") and not hasattr(view, "__self__"):
        view = view.__wrapped__
    # A method of the admin site (its login page, open to anyone) or of a ModelAdmin behind admin_view
    # (UserAdmin's password page): they check their own permissions.
    owner = getattr(view, "__self__", None)
    return owner if isinstance(owner, AdminSite | ModelAdmin) else None


class DeclaredRoutesMiddleware:
    """Fail closed: a route whose view declares nothing (`declaration`) is refused, 403, to everyone."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view, args, kwargs):
        if declaration(view) is None:
            logger.error(
                "refused %s: its view %s declares nothing", request.path, getattr(view, "__name__", view)
            )
            return HttpResponseForbidden("This page declares no permissions, so nobody may open it.")
        return None


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
