"""The admin site: Django's admin with the screens that are not one model's change list.

Customer users live in sources, relations are matrices, and the sources have a status page; their views
(customers/admin_views.py, permissions/admin_views.py) are added here so that they share the admin's
login, staff check, CSRF protection, look and navigation.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _


class HelpdeskAdminSite(admin.AdminSite):
    site_header = _("Helpdesk customer administration")
    site_title = _("Helpdesk admin")
    index_title = _("Customers, customer users and permissions")

    def get_urls(self):
        from customers import admin_views as customers
        from permissions import admin_views as permissions

        view = self.admin_view
        screens = [
            path("customer-users/", view(customers.customer_user_list), name="customer_user_list"),
            path("customer-users/add/", view(customers.customer_user_add), name="customer_user_add"),
            path(
                "customer-users/<path:login>/groups/",
                view(permissions.customer_user_groups),
                name="customer_user_groups",
            ),
            path(
                "customer-users/<path:login>/customers/",
                view(customers.customer_user_customers),
                name="customer_user_customers",
            ),
            path(
                "customer-users/<path:login>/services/",
                view(customers.customer_user_services),
                name="customer_user_services",
            ),
            path(
                "customer-users/<path:login>/invalidate/",
                view(customers.customer_user_invalidate),
                name="customer_user_invalidate",
            ),
            path(
                "customer-users/<path:login>/",
                view(customers.customer_user_change),
                name="customer_user_change",
            ),
            path(
                "groups/<int:group_id>/customer-users/",
                view(permissions.group_customer_users),
                name="group_customer_users",
            ),
            path(
                "customers/<str:customer_id>/groups/",
                view(permissions.customer_groups),
                name="customer_groups",
            ),
            path("default-groups/", view(permissions.default_groups), name="default_groups"),
            path("default-services/", view(customers.default_services), name="default_services"),
            path("sources/", view(customers.source_status), name="source_status"),
        ]
        return screens + super().get_urls()

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label is None and request.user.is_active and request.user.is_staff:
            screens = [
                (_("Customer users"), "customer_user_list", "customer_user_add"),
                (_("Default groups"), "default_groups", None),
                (_("Default services"), "default_services", None),
                (_("Sources"), "source_status", None),
            ]
            apps.insert(
                0,
                {
                    "name": _("Customer users and permissions"),
                    "app_label": "customer_users",
                    "app_url": reverse("admin:customer_user_list"),
                    "has_module_perms": True,
                    "models": [
                        {
                            "name": name,
                            "object_name": url,
                            "admin_url": reverse(f"admin:{url}"),
                            "add_url": reverse(f"admin:{add}") if add else None,
                            "view_only": False,
                            "perms": {"add": bool(add), "change": True, "delete": False, "view": True},
                        }
                        for name, url, add in screens
                    ],
                },
            )
        return apps
