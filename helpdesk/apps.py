from importlib import import_module

from django.contrib.admin.apps import AdminConfig


class HelpdeskAdminConfig(AdminConfig):
    """Django's admin with our site; the ModelAdmins live with the other screens in helpdesk/admin/."""

    default_site = "helpdesk.admin.site.HelpdeskAdminSite"

    def ready(self) -> None:
        super().ready()
        for module in ("customers", "tickets", "history", "logins", "provisioning"):
            import_module(f"helpdesk.admin.{module}")
