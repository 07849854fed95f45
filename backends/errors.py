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


# What an admin is told about the usual reasons a source cannot be reached (the Sources page's test).
_REFUSED = ("refused", "can't contact", "cannot contact", "connection reset", "could not connect")
CONNECTION_HINTS = (
    (_REFUSED, gettext_lazy(
        "Nothing answers at that address and port: is the server running, and are the host name and "
        "the port right? A firewall that rejects the connection looks the same.")),
    (("timed out", "timeout"), gettext_lazy(
        "The server did not answer within the source's Timeout: is a firewall dropping the packets, "
        "or is the server overloaded?")),
    (("invalid credentials", "password authentication failed", "access denied"), gettext_lazy(
        "The server refused the account the source logs in with: check the bind DN or user and its "
        "password (Params: UserDN / UserPw, or the DSN's user and password).")),
    (("no such object", "does not exist", "unknown database"), gettext_lazy(
        "The server answers, but what the source reads is not there: check BaseDN (a directory) or "
        "the database and table names (a DSN and Table).")),
    (("size limit",), gettext_lazy(
        "The server stopped at its size limit: the source pages its searches; raise the server's "
        "limit for the bind account if searches are still cut.")),
)  # fmt: skip


def connection_hint(detail: str) -> str:
    """A human hint for a failed source's detail text, or "" when none of the usual reasons fits."""
    text = detail.lower()
    return next((str(hint) for needles, hint in CONNECTION_HINTS if any(n in text for n in needles)), "")
