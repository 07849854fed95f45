from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = "Tickets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from customers.signals import customer_renamed, customer_user_renamed
        from tickets import services

        customer_user_renamed.connect(services.follow_login_rename, dispatch_uid="tickets.login_rename")
        customer_renamed.connect(services.follow_customer_id_rename, dispatch_uid="tickets.customer_rename")
