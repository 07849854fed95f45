"""Errors raised by sources and the registry; all are HelpdeskErrors with a stable code."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import HelpdeskError, NotFound, ValidationFailed


class SourceUnavailable(HelpdeskError):
    code = "source.unavailable"
    status = 503
    template = gettext_lazy("Source {alias} is unavailable ({operation}): {detail}")


class SourceReadOnly(HelpdeskError):
    code = "source.read_only"
    status = 409
    template = gettext_lazy("Source {alias} is read-only; customer user {login!r} was not changed.")


class UnknownSource(HelpdeskError):
    code = "source.unknown"
    status = 400
    template = gettext_lazy("There is no source {alias!r}; configured sources: {configured}.")


class CustomerUserNotFound(NotFound):
    code = "customer_user.not_found"
    template = gettext_lazy("There is no customer user {login!r}.")


class CustomerUserInvalid(ValidationFailed):
    code = "customer_user.invalid"
    template = gettext_lazy("Customer user {login!r} was not saved: {summary}")


def summarize(field_errors: dict[str, list[str]]) -> str:
    """`attribute: messages; …` for an error's one-line message."""
    return "; ".join(f"{attribute}: {' '.join(messages)}" for attribute, messages in field_errors.items())


def login_taken_message(login: str) -> str:
    return _("Customer user %(login)r already exists.") % {"login": login}


def email_taken_message(email: str) -> str:
    shown = email if len(email) <= 60 else f"{email[:60]}…"
    return _("The e-mail address %(email)r is already in use for another customer user.") % {"email": shown}


def login_taken(login: str, *, taken: str | None = None) -> CustomerUserInvalid:
    """A write of `login` refused because another customer user holds `taken` (by default the same)."""
    return CustomerUserInvalid(
        {"UserLogin": [login_taken_message(login if taken is None else taken)]},
        login=login,
        summary=_("the login is taken"),
    )


def empty_password(login: str) -> CustomerUserInvalid:
    return CustomerUserInvalid(
        {"UserPassword": [_("A password must not be empty.")]}, login=login, summary=_("empty password")
    )


__all__ = [
    "CustomerUserInvalid",
    "CustomerUserNotFound",
    "SourceReadOnly",
    "SourceUnavailable",
    "UnknownSource",
    "email_taken_message",
    "empty_password",
    "login_taken",
    "login_taken_message",
    "summarize",
]
