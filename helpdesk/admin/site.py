"""The admin site: Django's admin with the screens that are not one model's change list.

Customer users live in sources, relations are matrices, and the sources have a status page; their views
(customers/admin_views.py, permissions/admin_views.py, helpdesk/information_center.py) are added here so
that they share the admin's login, staff check, CSRF protection, look and navigation; each declares what
it needs (helpdesk/access.py), and the menu shows only what the user may open.
"""

from __future__ import annotations

from django.contrib import admin
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from helpdesk import access
from helpdesk.access import needs
from staff.forms import StaffLoginForm

_CUSTOMER, _USER = "customers.view_customer", "customers.view_customeruser"
_GROUP, _SERVICE = "customers.view_group", "customers.view_service"


class HelpdeskAdminSite(admin.AdminSite):
    site_header = _("Helpdesk customer administration")
    site_title = _("Helpdesk admin")
    index_title = _("Customers, customer users and permissions")
    login_form = StaffLoginForm

    def screens(self):
        """(route, view, name, what it needs): every screen that is not one model's change list."""
        from helpdesk.admin import customer_users as customers
        from helpdesk.admin import information_center as cic
        from helpdesk.admin import permissions, tickets

        user = "customer-users/<path:login>"
        return [
            ("information-center/", cic.information_center, "information_center", needs(_CUSTOMER)),
            ("information-center/<str:customer_id>/", cic.customer, "information_center_customer",
             needs(_CUSTOMER)),
            ("customers/choose/", customers.customer_choices, "customer_choices", needs(_CUSTOMER)),
            ("customer-users/", customers.customer_user_list, "customer_user_list", needs(_USER)),
            ("customer-users/choose/", customers.customer_user_choices, "customer_user_choices",
             needs(_USER)),
            ("customer-users/import/", customers.customer_user_import, "customer_user_import",
             needs((_USER, "customers.add_customeruser"))),
            ("customer-users/imports/", customers.import_runs, "import_runs",
             needs((_USER, "customers.add_customeruser"))),
            ("customer-users/imports/<int:run_id>/refused-rows/", customers.import_run_report,
             "import_run_report", needs((_USER, "customers.add_customeruser"))),
            ("customer-users/add/", customers.customer_user_add, "customer_user_add",
             needs((_USER, "customers.add_customeruser"))),
            (f"{user}/groups/", permissions.customer_user_groups, "customer_user_groups",
             needs((_USER, _GROUP), access.CHANGE_GROUP_PERMISSIONS)),
            (f"{user}/customers/", customers.customer_user_customers, "customer_user_customers",
             needs((_USER, _CUSTOMER), access.CHANGE_RELATIONS)),
            (f"{user}/services/", customers.customer_user_services, "customer_user_services",
             needs((_USER, _SERVICE), access.CHANGE_RELATIONS)),
            (f"{user}/export/", customers.customer_user_export, "customer_user_export",
             needs((_USER, access.EXPORT_PERSON))),
            (f"{user}/second-factor/reset/", customers.customer_user_second_factor_reset,
             "customer_user_second_factor_reset", needs(_USER, access.SET_PASSWORD)),
            (f"{user}/password/", customers.customer_user_password, "customer_user_password",
             needs(_USER, access.SET_PASSWORD)),
            (f"{user}/view-as/", customers.customer_user_view_as, "customer_user_view_as",
             needs(_USER, access.VIEW_PANEL_AS)),
            (f"{user}/anonymise/", customers.customer_user_anonymise, "customer_user_anonymise",
             needs(_USER, access.ANONYMISE)),
            (f"{user}/invalidate/", customers.customer_user_invalidate, "customer_user_invalidate",
             needs(_USER, "customers.change_customeruser")),
            (f"{user}/", customers.customer_user_change, "customer_user_change",
             needs(_USER, "customers.change_customeruser")),
            ("groups/<int:group_id>/customer-users/", permissions.group_customer_users,
             "group_customer_users", needs((_GROUP, _USER), access.CHANGE_GROUP_PERMISSIONS)),
            ("customers/<str:customer_id>/customer-users/", customers.customer_customer_users,
             "customer_customer_users", needs((_CUSTOMER, _USER), access.CHANGE_RELATIONS)),
            ("customers/<str:customer_id>/groups/", permissions.customer_groups, "customer_groups",
             needs((_CUSTOMER, _GROUP), access.CHANGE_GROUP_PERMISSIONS)),
            ("default-groups/", permissions.default_groups, "default_groups",
             needs(_GROUP, access.CHANGE_DEFAULTS)),
            ("default-services/", customers.default_services, "default_services",
             needs(_SERVICE, access.CHANGE_DEFAULTS)),
            ("sources/", customers.source_status, "source_status", needs(access.VIEW_SOURCES)),
            ("sources/<str:alias>/preview/", customers.source_rules_preview, "source_rules_preview",
             needs(access.VIEW_SOURCES)),
            ("sources/<str:alias>/sync-runs/", customers.source_sync_runs, "source_sync_runs",
             needs((access.VIEW_SOURCES, access.VIEW_SYNC_RUNS), access.RUN_SYNC)),
            ("tickets/attachments/<int:attachment_id>/", tickets.attachment_download, "ticket_attachment",
             needs("tickets.view_ticket")),
        ]  # fmt: skip

    def get_urls(self):
        own = [
            path(route, self.admin_view(access.screen(view, required)), name=name)
            for route, view, name, required in self.screens()
        ]
        return own + super().get_urls()

    def each_context(self, request):
        """Every screen knows which custom screens the user may open (`may_open`) and write to
        (`may_post`), so it shows only the links and buttons that work for them (agents read, never Save)."""
        context = super().each_context(request)
        user = getattr(request, "user", None)
        screens = [(name, required) for _, _, name, required in self.screens()]
        context["may_open"] = {name for name, required in screens if required.allow(user, "GET")}
        context["may_post"] = {name for name, required in screens if required.allow(user, "POST")}
        match = getattr(request, "resolver_match", None)
        context["can_save"] = match is not None and match.url_name in context["may_post"]
        return context

    def index(self, request, extra_context=None):
        """Agents (who may read customers but change none) land on the Customer Information Center."""
        user = request.user
        if user.has_perm("customers.view_customer") and not user.has_perm("customers.change_customer"):
            return redirect("admin:information_center")
        return super().index(request, extra_context)

    def get_app_list(self, request, app_label=None):
        """One menu, one word for each thing, in the order of the daily work: the customers' side (customer
        users, customers, the Customer Information Center, customer groups, services), then settings (default
        groups and services, sources, login locks, history), tickets, and the staff's side (users, staff
        groups, tokens). Each entry only for those who may open it; customer users once (the screen over every
        source, not our table's change list), and customer groups named apart from staff groups."""
        apps = super().get_app_list(request, app_label)
        if app_label is not None or not (request.user.is_active and request.user.is_staff):
            return apps
        needed = {name: required for _, _, name, required in self.screens()}
        models = {(app["app_label"], model["object_name"]): model for app in apps for model in app["models"]}

        def screen(label: str, name: str, add: str | None = None) -> dict | None:
            if not needed[name].allow(request.user, "GET"):
                return None
            may_add = add is not None and needed[add].allow(request.user, "POST")
            return {
                "name": label, "object_name": name, "admin_url": reverse(f"admin:{name}"),
                "add_url": reverse(f"admin:{add}") if may_add else None,
                "view_only": not needed[name].allow(request.user, "POST"),
                "perms": {"add": may_add, "change": True, "delete": False, "view": True},
            }  # fmt: skip

        placed = {("customers", "CustomerUser")}  # our table's change list: the screen above replaces it

        def model(app: str, name: str, label: str | None = None) -> dict | None:
            placed.add((app, name))
            found = models.get((app, name))
            return {**found, "name": label} if found is not None and label else found

        sections = [
            ("customer_users", _("Customers and customer users"), [
                screen(_("Customer users"), "customer_user_list", "customer_user_add"),
                model("customers", "Customer"),
                screen(_("Customer Information Center"), "information_center"),
                model("customers", "Group", _("Customer groups")),
                model("customers", "Service"),
            ]),
            ("settings", _("Settings"), [
                screen(_("Default groups"), "default_groups"),
                screen(_("Default services"), "default_services"),
                model("permissions", "PermissionSetting"),
                screen(_("Sources"), "source_status"),
                model("provisioning", "ScimClient"),
                model("customers", "LoginFailure"),
                model("core", "HistoryEntry", _("History")),
            ]),
            ("tickets", _("Tickets"), [model("tickets", "Queue"), model("tickets", "Ticket")]),
            ("staff", _("Staff"), [
                model("auth", "User", _("Staff users")),
                model("auth", "Group", _("Staff groups (roles)")),
                model("authtoken", "TokenProxy", _("API tokens")),
            ]),
        ]  # fmt: skip
        menu = []
        for label_key, label, entries in sections:
            shown = [entry for entry in entries if entry is not None]
            if shown:
                menu.append({"name": label, "app_label": label_key, "app_url": shown[0]["admin_url"],
                             "has_module_perms": True, "models": shown})  # fmt: skip
        rest = [entry for key, entry in models.items() if key not in placed]
        if rest:  # a model of another app, or one added later: never hidden from those who may see it
            menu.append({"name": _("Other"), "app_label": "other", "app_url": rest[0]["admin_url"],
                         "has_module_perms": True, "models": rest})  # fmt: skip
        return menu
        needed = {name: required for _, _, name, required in self.screens()}
        menu = [
            (_("Customer Information Center"), "information_center", None),
            (_("Customer users"), "customer_user_list", "customer_user_add"),
            (_("Default groups"), "default_groups", None),
            (_("Default services"), "default_services", None),
            (_("Sources"), "source_status", None),
        ]

        def may(name: str, method: str) -> bool:
            return needed[name].allow(request.user, method)

        models = [
            {
                "name": label,
                "object_name": name,
                "admin_url": reverse(f"admin:{name}"),
                "add_url": reverse(f"admin:{add}") if add and may(add, "POST") else None,
                "view_only": not may(name, "POST"),
                "perms": {"add": bool(add), "change": True, "delete": False, "view": True},
            }
            for label, name, add in menu
            if may(name, "GET")
        ]
        if models:
            apps.insert(
                0,
                {
                    "name": _("Customer users and permissions"),
                    "app_label": "customer_users",
                    "app_url": models[0]["admin_url"],
                    "has_module_perms": True,
                    "models": models,
                },
            )
        return apps
