from django.apps import AppConfig


class PermissionsConfig(AppConfig):
    name = "permissions"
    verbose_name = "Customer permissions"

    def ready(self) -> None:
        from permissions import cache  # noqa: F401  (connects the setting_changed receiver)
