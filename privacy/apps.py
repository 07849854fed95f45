from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    """A person's data: everything the product holds about them (export), and their anonymisation."""

    name = "privacy"
    verbose_name = "Privacy"
