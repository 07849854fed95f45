from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    """Paths by which identity providers write customer users: SCIM 2.0 clients (and single sign-on next)."""

    name = "provisioning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from provisioning import checks  # noqa: F401  (registers the configuration check)
