from django.apps import AppConfig, apps
from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_migrate


class StaffConfig(AppConfig):
    """Staff users: their roles (staff/roles.py) and the protection of their logins."""

    name = "staff"
    verbose_name = "Staff"

    def ready(self) -> None:
        post_migrate.connect(_sync_roles, dispatch_uid="staff.sync_roles")
        m2m_changed.connect(
            _record_roles, sender=get_user_model().groups.through, dispatch_uid="staff.history"
        )


def _record_roles(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
    """A staff user's roles (Django groups) changed, on whatever path: one history entry per user."""
    if action not in ("post_add", "post_remove") or not pk_set:
        return
    from django.contrib.auth.models import Group

    from core import history

    verb = "granted" if action == "post_add" else "revoked"
    if reverse:  # a role's users changed
        users = get_user_model().objects.filter(pk__in=pk_set)
        for user in users:
            history.record(f"staff_role.{verb}", "staff_user", user.get_username(), roles=[instance.name])
        return
    roles = sorted(Group.objects.filter(pk__in=pk_set).values_list("name", flat=True))
    history.record(f"staff_role.{verb}", "staff_user", instance.get_username(), roles=roles)


def _sync_roles(sender, using="default", **kwargs) -> None:
    if sender.name != "staff":  # once per migrate, after every app's permissions exist
        return
    from staff.roles import sync_roles

    sync_roles(apps, using=using)
