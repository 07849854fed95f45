from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import checks, generations, lookups  # noqa: F401  (registers the checks, the receiver)

        lookups.register()
