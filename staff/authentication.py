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

from customers.authentication import LoginLock

logger = logging.getLogger("helpdesk.staff_login")

ACCOUNT, ADDRESS = "staff", "staff address"
LOCKED = "Too many failed logins: try again later."


def staff_login_lock() -> LoginLock:
    return LoginLock(settings.STAFF_LOGIN_MAX_FAILED, settings.STAFF_LOGIN_LOCK_MINUTES)


def client_address(request) -> str:
    return (getattr(request, "META", None) or {}).get("REMOTE_ADDR", "") if request is not None else ""


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
    """Django's user and password check, refused while the account or the address is locked.

    Failures are counted after the check, atomically: a staff user's API client logs in on every request
    (HTTP Basic), in parallel, which a count taken before each check would turn into a lock.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        lock, address = staff_login_lock(), client_address(request)
        keys = [(str(username).strip().casefold(), ACCOUNT)] + ([(address, ADDRESS)] if address else [])
        until = max(filter(None, (lock.locked(key, scope) for key, scope in keys)), default=None)
        if until is not None:
            logger.warning("staff login refused from %s: %r is locked", address or "?", username)
            _lock_ends(request, until)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:  # the failures before it were this person's typing
            for key, scope in keys:  # in the staff scopes only: a customer may have the same login
                LoginLock.forget({key}, [scope])
            return user
        ended = [until for until in (lock.count_failure(key, scope) for key, scope in keys) if until]
        logger.warning("staff login failed from %s for %r", address or "?", username)
        if ended:
            _lock_ends(request, max(ended))
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
        lock, address = staff_login_lock(), client_address(getattr(self, "request", None))
        until = lock.locked(address, ADDRESS) if address else None
        if until is not None:
            raise _throttled(until)
        try:
            return super().authenticate_credentials(key)
        except exceptions.AuthenticationFailed:
            until = lock.count_failure(address, ADDRESS) if address else None
            logger.warning("staff token refused from %s", address or "?")
            if until is not None:
                raise _throttled(until) from None
            raise
