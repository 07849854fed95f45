"""A forgotten password, reset by e-mail (the reference's customer panel "lost password"): one answer
whatever the account, a one-time link valid for PASSWORD_RESET_TIMEOUT seconds (Django's token pattern,
bound to the customer user's session version, which every password change renews), and, for a source
whose passwords the product cannot set, a mail saying where to change it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from backends.base import CustomerUserRecord
from backends.errors import SourceUnavailable
from backends.registry import SourceHandler, sources
from core.mail import send_after_answer
from core.validity import Validity
from customers.selectors import get_customer_user, preferred_language, search_customer_users, session_version
from customers.services import set_customer_user_password

logger = logging.getLogger(__name__)


class CustomerPasswordResetTokens(PasswordResetTokenGenerator):
    key_salt = "helpdesk.customers.password_reset"

    def _make_hash_value(self, record: CustomerUserRecord, timestamp: int) -> str:
        return f"{record.login}\x1f{session_version(record.login)}\x1f{timestamp}"


tokens = CustomerPasswordResetTokens()


def find_by_login_or_email(text: str, *, registry: SourceHandler = sources) -> CustomerUserRecord | None:
    """The valid customer user whose login is `text`, else the one valid user with that e-mail address."""
    text = (text or "").strip()
    if not text or "\x00" in text:
        return None
    record = get_customer_user(text, registry=registry)
    if record is None and "@" in text:
        rows = search_customer_users(postmaster=text, registry=registry).rows
        record = get_customer_user(rows[0].login, registry=registry) if len(rows) == 1 else None
    return record if record is not None and record.valid_id == Validity.VALID else None


def request_password_reset(
    text: str, *, link: Callable[[str, str], str], registry: SourceHandler = sources
) -> None:
    """Mail the customer user named by `text` (login or e-mail address) a one-time link, built by
    `link(uid, token)`; or, for a read-only source, where to change the password. Says nothing back: the
    caller answers the same whether or not anyone matched."""
    try:
        record = find_by_login_or_email(text, registry=registry)
    except SourceUnavailable:
        logger.warning("password reset for %r: a source is unavailable", text)
        return
    if record is None or not record.email:
        logger.info("password reset asked for %r: no valid customer user with an e-mail address", text)
        return
    source = registry[record.source]
    context = {"name": record.full_name or record.login, "login": record.login, "source": source.config.name}
    with translation.override(preferred_language(record.login) or translation.get_language()):
        if not source.sets_passwords:
            body = render_to_string("portal/mail/password_elsewhere.txt", context)
        else:
            uid = urlsafe_base64_encode(force_bytes(record.login))
            context |= {
                "link": link(uid, tokens.make_token(record)),
                "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
            }
            body = render_to_string("portal/mail/password_reset.txt", context)
        subject = translation.gettext("Your helpdesk password")
    send_after_answer(subject, body, [record.email])
    logger.info("password reset mail queued for customer user %s", record.login)


def record_for_link(uid: str, token: str, *, registry: SourceHandler = sources) -> CustomerUserRecord | None:
    """The customer user of a reset link still valid (not expired, not used), or None."""
    try:
        login = force_str(urlsafe_base64_decode(uid))
    except (ValueError, TypeError):
        return None
    if not login or "\x00" in login:
        return None
    record = get_customer_user(login, registry=registry)  # the login the link was made for, never an e-mail
    if record is None or record.valid_id != Validity.VALID or record.login != login:
        return None
    return record if tokens.check_token(record, token) else None


def reset_password(record: CustomerUserRecord, password: str, *, registry: SourceHandler = sources) -> None:
    """Set the new password (the policy applies); the link stops working, and so do other sessions."""
    set_customer_user_password(login=record.login, password=password, acting_user=None, registry=registry,
                               reset=True)  # fmt: skip
