from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    """Paths by which identity providers write customer users: SCIM 2.0 clients and single sign-on."""

    name = "provisioning"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from customers.signals import customer_user_renamed
        from provisioning import checks  # noqa: F401  (registers the configuration check)
        from provisioning.identities import follow_login_rename

        customer_user_renamed.connect(follow_login_rename, dispatch_uid="provisioning.login_rename")
