from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class StaffConfig(AppConfig):
    """Staff users: their roles (staff/roles.py) and the protection of their logins."""

    name = "staff"
    verbose_name = "Staff"

    def ready(self) -> None:
        post_migrate.connect(_sync_roles, dispatch_uid="staff.sync_roles")


def _sync_roles(sender, using="default", **kwargs) -> None:
    if sender.name != "staff":  # once per migrate, after every app's permissions exist
        return
    from staff.roles import sync_roles

    sync_roles(apps, using=using)
