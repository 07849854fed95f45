from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_delete, post_save


def _unicode_lower_for_sqlite(sender, connection, **kwargs) -> None:
    """SQLite's built-in lower() folds ASCII only; searches must fold 'MÜLLER' like PostgreSQL does."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def _forget_cached_customer_user_reads(sender, **kwargs) -> None:
    """A customer-user row changed outside a source (admin, import, shell): cached reads are stale (R11)."""
    from backends.registry import sources
    from core.generations import forget_customer_user_answers

    forget_customer_user_answers(*sources.aliases)


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        connection_created.connect(_unicode_lower_for_sqlite, dispatch_uid="customers.sqlite_lower")
        from customers import checks  # noqa: F401 (registers the checks that need the database)

        customer_user = self.get_model("CustomerUser")
        for signal in (post_save, post_delete):
            signal.connect(
                _forget_cached_customer_user_reads, sender=customer_user, dispatch_uid=f"customers.{signal}"
            )
