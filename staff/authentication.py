"""Staff logins, by the admin's form, HTTP Basic or token, lock after repeated failures: per account and
per client address, counted atomically in the database (the customers' `LoginLock`), with
HELPDESK_STAFF_LOGIN_MAX_FAILED failures (default 5) locking for HELPDESK_STAFF_LOGIN_LOCK_MINUTES
(default 15). A locked login is refused whatever the password; the API answers 429 with Retry-After.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from rest_framework import authentication, exceptions

from core.clients import client_address
from customers.authentication import LoginLock

logger = logging.getLogger("helpdesk.staff_login")

ACCOUNT, ADDRESS = "staff", "staff address"
LOCKED = "Too many failed logins: try again later."


def staff_login_lock() -> LoginLock:
    """Per account: HELPDESK_STAFF_LOGIN_MAX_FAILED, counted before the password is checked."""
    return LoginLock(settings.STAFF_LOGIN_MAX_FAILED, settings.STAFF_LOGIN_LOCK_MINUTES)


def address_lock() -> LoginLock:
    """Per client address, over all accounts: HELPDESK_STAFF_ADDRESS_MAX_FAILED, much higher."""
    return LoginLock(settings.STAFF_ADDRESS_MAX_FAILED, settings.STAFF_LOGIN_LOCK_MINUTES)


class LockedOut(PermissionDenied):
    def __init__(self, until: datetime) -> None:
        super().__init__(LOCKED)
        self.until = until


def _lock_ends(request, until: datetime) -> None:
    """Tell the surface (form, Basic, token) when the lock ends; Django's authenticate() stops at it."""
    if request is not None:
        request.staff_locked_until = until
    raise LockedOut(until)


class LockingModelBackend(ModelBackend):
    """Django's user and password check, refused while the account or the client address is locked.

    Each attempt is counted before its password is checked (as a customer's is), for the account and for
    the client address: parallel guesses check at most HELPDESK_STAFF_LOGIN_MAX_FAILED passwords of one
    account; the address has its own, higher limit, so one person's typos never lock the others behind
    the same proxy.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        account, address = str(username).strip().casefold(), client_address(request)
        accounts, addresses = staff_login_lock(), address_lock()
        until = addresses.reserve(address, ADDRESS) if address else None
        if until is None:
            until = accounts.reserve(account, ACCOUNT)
            if until is not None and address:
                addresses.release(address, ADDRESS)  # no password was checked: not the address's failure
        if until is not None:
            logger.warning("staff login refused from %s: %r is locked", address or "?", username)
            _lock_ends(request, until)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:  # the failures before it were this person's typing
            LoginLock.forget({account}, [ACCOUNT])  # in the staff scopes only: a customer may share the login
            if address:
                LoginLock.forget({address}, [ADDRESS])
            return user
        ended = [accounts.failed(account, ACCOUNT), addresses.failed(address, ADDRESS) if address else None]
        logger.warning("staff login failed from %s for %r", address or "?", username)
        if any(ended):
            _lock_ends(request, max(filter(None, ended)))
        return None


def _throttled(until: datetime) -> exceptions.Throttled:
    wait = max(1, math.ceil((until - timezone.now()).total_seconds()))
    return exceptions.Throttled(wait=wait, detail=f"{LOCKED} Retry after {wait} s.")


class BasicAuthentication(authentication.BasicAuthentication):
    """DRF's, with a locked login answered 429 and Retry-After instead of 401."""

    def authenticate_credentials(self, userid, password, request=None):
        try:
            return super().authenticate_credentials(userid, password, request)
        except exceptions.AuthenticationFailed:
            until = getattr(request, "staff_locked_until", None)
            if until is not None:
                raise _throttled(until) from None
            raise


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's, with wrong tokens counted per client address: guessing tokens locks the address too."""

    def authenticate(self, request):
        self.request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        """A valid token is never refused for its address; a wrong one counts for the address."""
        try:
            return super().authenticate_credentials(key)
        except exceptions.AuthenticationFailed:
            lock, address = address_lock(), client_address(getattr(self, "request", None))
            until = (
                (lock.locked(address, ADDRESS) or lock.count_failure(address, ADDRESS)) if address else None
            )
            logger.warning("staff token refused from %s", address or "?")
            if until is not None:
                raise _throttled(until) from None
            raise
