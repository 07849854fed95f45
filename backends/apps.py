from django.apps import AppConfig


class BackendsConfig(AppConfig):
    name = "backends"
    verbose_name = "Customer-user sources"

    def ready(self) -> None:
        from backends import checks, registry  # noqa: F401  (registers checks and the settings receiver)
