"""Admin screens for group permissions: checkbox matrices from both sides, and the default groups."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from backends.registry import sources
from customers.selectors import get_customer, get_customer_users, get_group, group_names
from helpdesk.admin.customer_users import _record_or_404, render_admin, save_and_report
from permissions.matrix import get_permission_matrix
from permissions.selectors import (
    OTHER,
    SAME,
    customer_group_links,
    get_permission_settings,
    group_member_permissions,
    permission_types,
    stored_group_permissions,
)
from permissions.services import (
    set_customer_groups_in_contexts,
    set_customer_user_groups,
    set_group_customer_users,
    set_permission_setting,
)


def _checked(
    request: HttpRequest, keys: list[str], types: list[str], prefix: str = ""
) -> dict[str, list[str]]:
    """`{key: [types]}` from checkboxes named `<prefix><type>:<key>`."""
    return {key: [t for t in types if f"{prefix}{t}:{key}" in request.POST] for key in keys}


def customer_user_groups(request: HttpRequest, login: str) -> HttpResponse:
    """One customer user × every group: one column per permission type (R145–R154)."""
    record = _record_or_404(login)
    types = permission_types()
    groups = group_names(valid_only=True)
    disabled = not sources.configs[record.source].group_support
    if disabled:  # R152: the feature is off for this source, which gives its users every valid group
        messages.warning(
            request,
            _(
                "Group support is off for source %(source)s (CustomerGroupSupport = 0): its customer users"
                " have every valid group with every permission type (R103), and nothing set here would count."
            )
            % {"source": record.source},
        )
    if request.method == "POST" and disabled:
        messages.error(request, _("Nothing was saved."))
    elif request.method == "POST":
        wanted = {g: t for g, t in _checked(request, groups, types).items() if t}
        if save_and_report(
            request,
            lambda: set_customer_user_groups(
                login=record.login, permissions=wanted, acting_user=request.user
            ),
            _("The groups of %(login)s were saved.") % {"login": record.login},
        ):
            return redirect("admin:customer_user_groups", login=record.login)
    held = {(g, t) for g, types in stored_group_permissions(login=record.login).items() for t in types}
    effective = get_permission_matrix(record.login)

    def held_otherwise(group: str, kind: str) -> str:
        """Why the person holds this type other than by its own box (`rw`, default and company groups, …)."""
        return "; ".join(
            g.reason for g in effective.why(group, kind) if not (g.kind == "direct" and g.stored == kind)
        )

    rows = [(g, g, [(t, (g, t) in held, held_otherwise(g, t)) for t in types]) for g in groups]
    return render_admin(
        request,
        "admin/permissions/matrix.html",
        _("Groups of %(login)s") % {"login": login},
        record=record,
        types=types,
        sections=[("", "", rows)],
        key_label=_("Group"),
        disabled=disabled,
    )


def group_customer_users(request: HttpRequest, group_id: int) -> HttpResponse:
    """One group × its customer users; more users are added by login."""
    group = get_group(group_id)
    if group is None:
        raise Http404(f"There is no group {group_id}.")
    types = permission_types()
    members = list(group_member_permissions(group.pk))
    if off := [alias for alias in sources.aliases if not sources.configs[alias].group_support]:
        messages.warning(  # R103: their users hold this group whatever the list below says
            request,
            _(
                "Group support is off for %(sources)s (CustomerGroupSupport = 0): every customer user of it"
                " holds %(group)s with every permission type, whatever this list says."
            )
            % {"sources": ", ".join(off), "group": group.name},
        )
    if request.method == "POST":
        added = [
            login.strip() for login in request.POST.get("add", "").replace(",", " ").split() if login.strip()
        ]
        keys = members + [login for login in added if login not in members]
        wanted = {k: t for k, t in _checked(request, keys, types).items() if t}
        for login in added:
            wanted.setdefault(login, ["ro"])
        if save_and_report(
            request,
            lambda: set_group_customer_users(group=group.name, permissions=wanted, acting_user=request.user),
            _("The customer users of %(group)s were saved.") % {"group": group.name},
        ):
            return redirect("admin:group_customer_users", group_id=group.pk)
    held = {
        (login, t) for login, types_held in group_member_permissions(group.pk).items() for t in types_held
    }
    records, _unavailable = get_customer_users(members)
    rows = [
        (
            login,
            f"{login} — {records[login.casefold()].display}" if login.casefold() in records else login,
            [(t, (login, t) in held, "") for t in types],
        )
        for login in members
    ]
    return render_admin(
        request,
        "admin/permissions/matrix.html",
        _("Customer users of group %(group)s") % {"group": group.name},
        types=types,
        sections=[("", "", rows)],
        key_label=_("Customer user"),
        add_logins=True,
    )


def customer_groups(request: HttpRequest, customer_id: str) -> HttpResponse:
    """One customer × every group, in the Same and the Other context (R102, R106)."""
    customer = get_customer(customer_id)
    if customer is None:
        raise Http404(f"There is no customer {customer_id!r}.")
    types = permission_types()
    groups = group_names(valid_only=True)
    contexts = [
        (SAME, "same-", _("Tickets of this customer (Same context)")),
        (OTHER, "other-", _("Tickets of other customers (Other context)")),
    ]
    disabled = not any(sources.configs[alias].group_support for alias in sources.aliases)
    if disabled:  # R152: no source uses group permissions, so a customer's would count for nobody
        messages.warning(
            request,
            _(
                "Group support is off for every source (CustomerGroupSupport = 0): their customer users have"
                " every valid group, and nothing set here would count."
            ),
        )
    if request.method == "POST" and disabled:
        messages.error(request, _("Nothing was saved."))
    elif request.method == "POST":

        def write():
            set_customer_groups_in_contexts(
                customer_id=customer.customer_id,
                permissions={
                    context: {g: t for g, t in _checked(request, groups, types, prefix).items() if t}
                    for context, prefix, _label in contexts
                },
                acting_user=request.user,
            )

        if save_and_report(
            request, write, _("The groups of %(customer)s were saved.") % {"customer": customer.customer_id}
        ):
            return redirect("admin:customer_groups", customer_id=customer.customer_id)
    held = set(customer_group_links(customer.customer_id))
    sections = [
        (label, prefix, [(g, g, [(t, (context, g, t) in held, "") for t in types]) for g in groups])
        for context, prefix, label in contexts
    ]
    return render_admin(
        request,
        "admin/permissions/matrix.html",
        _("Groups of customer %(customer)s") % {"customer": customer.customer_id},
        types=types,
        sections=sections,
        key_label=_("Group"),
        customer=customer,
        disabled=disabled,
    )


def default_groups(request: HttpRequest) -> HttpResponse:
    """`CustomerGroupAlwaysGroups` and `CustomerGroupCompanyAlwaysGroups`, stored at run time and logged."""
    keys = [
        ("CustomerGroupAlwaysGroups", _("Default groups of every customer user")),
        ("CustomerGroupCompanyAlwaysGroups", _("Default groups of every customer")),
    ]
    groups = group_names(valid_only=True)
    if request.method == "POST":

        def write():
            for key, _label in keys:
                chosen = [g for g in groups if f"{key}:{g}" in request.POST]
                set_permission_setting(key=key, value=chosen, acting_user=request.user)

        if save_and_report(request, write, _("The default groups were saved.")):
            return redirect("admin:default_groups")
    options = get_permission_settings()
    sections = [(label, key, [(g, g in (options.get(key) or [])) for g in groups]) for key, label in keys]
    return render_admin(
        request, "admin/permissions/default_groups.html", _("Default groups"), sections=sections
    )
