"""The panel's session: who is logged in, how (a password, or an identity provider: single sign-on), and a
login waiting for its second factor. Every way into the panel begins the session here."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from customers.selectors import session_version

SESSION_KEY = "customer_user_login"
SESSION_VERSION_KEY = "customer_user_session_version"  # ended by a password change (customers.selectors)
PENDING_KEY = "customer_user_pending_second_factor"
VIEW_AS_KEY = "customer_user_viewed_as"  # a staff user sees the panel as this customer user, read-only
PROVIDER_KEY = "customer_user_identity_provider"  # the provider a single sign-on came through
SIGN_ON_KEY = "customer_user_sign_on"  # what ends the provider's session at logout (an ID token; a NameID)
LINK_KEY = "customer_user_pending_link"  # a single sign-on's link, made once the second factor is given
NEXT_KEY = "customer_user_next"  # where a login waiting for its second factor lands after


def log_in(
    request: HttpRequest, login: str, *, provider: str = "", sign_on: dict[str, str] | None = None
) -> None:
    """Begin the session of `login` (a new session key: no fixation)."""
    request.session.cycle_key()
    for key in (PENDING_KEY, LINK_KEY, NEXT_KEY):
        request.session.pop(key, None)
    request.session[SESSION_KEY] = login
    request.session[SESSION_VERSION_KEY] = session_version(login)
    if provider:
        request.session[PROVIDER_KEY] = provider
        request.session[SIGN_ON_KEY] = sign_on or {}


def await_second_factor(
    request: HttpRequest, login: str, *, link: dict[str, Any] | None = None, then: str = ""
) -> None:
    """The first step was right (a password, or a provider's word); the code comes next (login_code)."""
    request.session.cycle_key()
    request.session[PENDING_KEY] = login
    if link is not None:
        request.session[LINK_KEY] = link
    if then:
        request.session[NEXT_KEY] = then
