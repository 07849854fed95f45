from django.apps import AppConfig
from django.db.backends.signals import connection_created


def _unicode_lower_for_sqlite(sender, connection, **kwargs) -> None:
    """SQLite's built-in lower() folds ASCII only; searches must fold 'MÜLLER' like PostgreSQL does."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        connection_created.connect(_unicode_lower_for_sqlite, dispatch_uid="customers.sqlite_lower")
