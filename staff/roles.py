"""The two staff roles the product ships, as Django groups: what each may do, by permission.

`sync_roles` makes each group hold exactly these permissions; it runs in the data migration that creates
the groups and after every `migrate` (post_migrate), so a permission added by a later version reaches the
roles at once. A deployment that wants other roles makes groups of its own: these two are the product's.
"""

from __future__ import annotations

CUSTOMER_ADMINISTRATORS = "Customer administrators"
AGENTS = "Agents"

_READ = [
    "customers.view_customer",
    "customers.view_customeruser",
    "customers.view_group",
    "customers.view_service",
    "tickets.view_queue",
    "tickets.view_ticket",
    "tickets.view_article",
]
_MANAGED = ["customer", "customeruser", "group", "service"]
ROLES: dict[str, list[str]] = {
    AGENTS: [*_READ, "tickets.change_ticket", "tickets.add_article"],
    CUSTOMER_ADMINISTRATORS: [
        *_READ,
        *(f"customers.{action}_{model}" for model in _MANAGED for action in ("add", "change")),
        *(
            f"tickets.{action}_{model}"
            for model in ("queue", "ticket", "article")
            for action in ("add", "change")
        ),
        "customers.change_group_permissions",
        "customers.change_customeruser_relations",
        "customers.set_customeruser_password",
        "customers.view_sources",
        "backends.view_syncrun",
        "backends.add_syncrun",  # start a directory sync
        "customers.anonymise_customeruser",
        "customers.export_customeruser",
        "customers.view_panel_as_customeruser",
        "customers.view_loginfailure",
        "customers.change_loginfailure",  # lift a login lock
        "permissions.change_defaults",
        "permissions.view_permissionsetting",
        "permissions.change_permissionsetting",
        "core.view_historyentry",
        "provisioning.view_scimclient",  # SCIM clients: made with a token shown once, deactivated
        "provisioning.add_scimclient",
        "provisioning.change_scimclient",
    ],
}


def sync_roles(apps, using: str = "default") -> None:
    """Create the role groups, and give each exactly its permissions (those that exist yet)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        wanted = [tuple(codename.split(".", 1)) for codename in codenames]
        found = (
            Permission.objects.using(using)
            .filter(
                content_type__app_label__in={app for app, _ in wanted},
                codename__in={codename for _, codename in wanted},
            )
            .select_related("content_type")
        )
        group.permissions.set([p for p in found if (p.content_type.app_label, p.codename) in wanted])
