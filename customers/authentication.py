"""Customer login against the sources (R85–R92): password hashes for databases, binds for directories.

The sources named in `CustomerAuthModules` (default: every source, R10 order) are tried in turn; the first
that accepts the password wins (R85). Failed logins are counted per login and source; at
`CustomerLoginMaxFailed` the login is locked for `CustomerLoginLockMinutes` (beyond OTOBO, and without the
reference's switch to invalid-temporarily, which an admin would have to undo by hand). Every outcome is
logged, never the password.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import check_password, get_hasher, make_password
from django.db import transaction
from django.db.models import F
from django.utils import formats, timezone
from django.utils.translation import gettext, gettext_noop

from backends.base import CustomerUserRecord
from backends.errors import SourceUnavailable
from backends.registry import SourceHandler, sources
from core import history, rates
from core.errors import TooManyRequests
from customers.models import CustomerUserPreference, LoginFailure, Validity
from customers.selectors import get_customer_user

logger = logging.getLogger("helpdesk.customer_login")

FAILED = gettext_noop("Login failed: the login or the password is wrong.")


@dataclass(frozen=True)
class LoginOutcome:
    ok: bool
    login: str
    reason: str  # ok | bad_credentials | locked | throttled | invalid | unavailable | missing
    source: str = ""
    locked_until: datetime | None = None
    retry_after: int = 0  # throttled: seconds until the client address may try again

    @property
    def message(self) -> str:
        """What the person at the login form may be told (never which part was wrong)."""
        match self.reason:
            case "ok":
                return ""
            case "locked":
                return locked_message(self.locked_until)
            case "throttled":
                return TooManyRequests(self.retry_after).message
            case "unavailable":
                return gettext("The login service is unavailable; please try again in a few minutes.")
            case _:
                return gettext(FAILED)


def locked_message(until: datetime | None) -> str:
    """What a locked login is told: until when (in the reader's time zone and format), never why."""
    if until is None:
        return gettext("Too many failed logins: try again later.")
    when = formats.date_format(timezone.localtime(until), "SHORT_DATETIME_FORMAT")
    return gettext("Too many failed logins: try again after %(time)s") % {"time": when}


def auth_sources(registry: SourceHandler) -> list[str]:
    configured = settings.HELPDESK_SETTINGS.get("CustomerAuthModules") or []
    return [alias for alias in configured if alias in registry] or registry.aliases


def authenticate_customer_user(
    login: str, password: str, *, registry: SourceHandler = sources, remote_addr: str = ""
) -> LoginOutcome:
    login = (login or "").strip()
    where = f" from {remote_addr}" if remote_addr else ""
    try:  # the address's rate first: over it, nothing is looked up and no password hashed
        rates.limit("login", remote_addr)
    except TooManyRequests as exc:
        logger.warning("customer login refused%s: too many logins from this address (login %r)", where, login)
        return LoginOutcome(False, login, "throttled", retry_after=exc.retry_after)
    if not login or not password:
        logger.info("customer login refused%s: login or password missing (login %r)", where, login)
        return LoginOutcome(False, login, "missing")
    if "\x00" in login:  # no login holds NUL, and PostgreSQL refuses it in a query
        logger.warning("customer login failed%s: a login with a NUL character", where)
        return LoginOutcome(False, login, "bad_credentials")
    try:  # the lock belongs to the person, whatever spelling the source matched (`ｌ00022` is `l00022`)
        record = get_customer_user(login, registry=registry, enrich=False)
    except SourceUnavailable:
        record = None
    known = record.login if record is not None else login
    key, counted_at = known.casefold(), record.source if record is not None else ""
    lock = customer_login_lock()
    locked_until = lock.reserve(key, counted_at)
    if locked_until is not None:
        logger.warning(
            "customer login refused%s: %r is locked until %s", where, known, locked_until.isoformat()
        )
        return LoginOutcome(False, login, "locked", locked_until=locked_until)

    refused_by: list[str] = []
    unavailable: list[str] = []
    for alias in auth_sources(registry):
        try:
            accepted = registry[alias].check_password(known, password)
        except SourceUnavailable as exc:
            logger.error(
                "customer login%s: source %s could not check %r: %s", where, alias, login, exc.message
            )
            unavailable.append(alias)
            continue
        if accepted:
            return _accepted(login, alias, registry, where)
        if accepted is False:
            refused_by.append(alias)

    if not refused_by and unavailable:
        lock.release(key, counted_at)  # no source could say no: not a failure
        return LoginOutcome(False, login, "unavailable")
    until = lock.failed(key, counted_at)
    if not any(registry[alias].hashes_passwords for alias in refused_by):
        # No slow hash was checked (nobody knows the login, or a directory's bind refused it in a few
        # milliseconds): one of the same cost, so the time of the answer tells no login from another.
        check_password(password, _unknown_login_hash())
    if refused_by:
        lock = f"; locked until {until.isoformat()}" if until else ""
        logger.warning(
            "customer login failed%s: wrong password for %r at %s%s",
            where,
            login,
            ", ".join(refused_by),
            lock,
        )
        return LoginOutcome(False, login, "locked" if until else "bad_credentials", locked_until=until)
    # Nobody knows the login: the same lock and message as a wrong password (and a hash of the same cost).
    logger.warning("customer login failed%s: no source knows %r", where, login)
    return LoginOutcome(False, login, "locked" if until else "bad_credentials", locked_until=until)


def check_current_password(
    record: CustomerUserRecord, password: str, *, registry: SourceHandler = sources
) -> LoginOutcome:
    """A password check outside the login (the panel's password change): an attempt like a login's,
    counted by the same lock before the check, so it is no oracle for guessing the password."""
    key, scope = record.login.casefold(), record.source
    lock = customer_login_lock()
    locked_until = lock.reserve(key, scope)
    if locked_until is not None:
        return LoginOutcome(False, record.login, "locked", locked_until=locked_until)
    try:
        accepted = bool(password) and registry[record.source].check_password(record.login, password) is True
    except SourceUnavailable:
        lock.release(key, scope)  # nobody could say no: not a failure
        return LoginOutcome(False, record.login, "unavailable")
    if accepted:
        LoginLock.forget({key}, [scope])
        return LoginOutcome(True, record.login, "ok", source=record.source)
    until = lock.failed(key, scope)
    logger.warning("customer password check failed for %r at %s (password change)", record.login, scope)
    return LoginOutcome(False, record.login, "locked" if until else "bad_credentials", locked_until=until)


def _accepted(login: str, alias: str, registry: SourceHandler, where: str) -> LoginOutcome:
    try:
        record = get_customer_user(login, registry=registry, enrich=False)
    except SourceUnavailable:
        record = None  # R87: accepted as is when no record can be read
    stored = record.login if record is not None else login
    if record is not None and record.valid_id != Validity.VALID:
        logger.warning("customer login refused%s: %r is set to invalid (%s)", where, stored, record.valid_id)
        return LoginOutcome(False, login, "invalid", source=alias)
    with transaction.atomic():
        LoginLock.forget({login.casefold(), stored.casefold()}, ["", *registry.aliases])
        for pref, value in (
            ("UserLastLogin", str(int(timezone.now().timestamp()))),
            ("UserAuthBackend", alias),
        ):
            CustomerUserPreference.objects.update_or_create(login=stored, key=pref, defaults={"value": value})
    logger.info("customer login%s: %r accepted by %s", where, stored, alias)
    return LoginOutcome(True, stored, "ok", source=alias)


def _unknown_login_hash() -> str:
    """What a password for an unknown login is checked against: as costly as a real check."""
    return _hash_of_nothing(get_hasher().algorithm)


@functools.cache
def _hash_of_nothing(algorithm: str) -> str:
    return make_password(secrets.token_urlsafe(16), hasher=algorithm)


@dataclass(frozen=True)
class LoginLock:
    """Failed logins counted per key (a login, an address) and scope (the source that knows the login, or
    `staff` / `staff address`), in LoginFailure, atomically in the database: after `maximum` failures
    within `minutes` the key is locked for `minutes` (0 for either: never locked). Customers' and staff
    logins use the same rule with their own numbers."""

    maximum: int
    minutes: int

    def reserve(self, key: str, scope: str) -> datetime | None:
        """Count this attempt as a failure *before* the password is checked (R86).

        So parallel attempts cannot all pass the check before any of them is counted: at most `maximum`
        passwords are ever checked before the lock. Returns the end of the lock when the key is locked (or
        every allowed attempt is already under way); None when this one may go on.
        """
        now = timezone.now()
        with transaction.atomic():
            failure, _ = LoginFailure.objects.select_for_update().get_or_create(
                login=key, source=scope, defaults={"count": 0, "last_failed_at": now}
            )
            if failure.locked_until is not None and failure.locked_until > now:
                return failure.locked_until
            stale = self.minutes and failure.last_failed_at < now - timedelta(minutes=self.minutes)
            if failure.locked_until is not None or stale:  # the lock expired, or the failures: a fresh start
                failure.count, failure.locked_until = 0, None
            if self.maximum and self.minutes and failure.count >= self.maximum:  # all allowed are under way
                failure.count, failure.locked_until = 0, now + timedelta(minutes=self.minutes)
                failure.save(update_fields=["count", "locked_until"])
                return failure.locked_until
            failure.count += 1
            failure.last_failed_at = now
            failure.save(update_fields=["count", "locked_until", "last_failed_at"])
        return None

    def locked(self, key: str, scope: str) -> datetime | None:
        """The end of the key's lock, if it is locked (a look-up: nothing is counted)."""
        return (
            LoginFailure.objects.filter(login=key, source=scope, locked_until__gt=timezone.now())
            .values_list("locked_until", flat=True)
            .first()
        )

    def count_failure(self, key: str, scope: str) -> datetime | None:
        """Count a failed attempt that was not reserved (logins that may run in parallel, as HTTP Basic
        does on every request), atomically; returns the end of the lock it sets, if it sets one."""
        return None if self.reserve(key, scope) else self.failed(key, scope)

    def failed(self, key: str, scope: str) -> datetime | None:
        """The attempt failed (it is counted already): lock when the count has reached the maximum."""
        if not (self.maximum and self.minutes):
            return None
        locked_until = timezone.now() + timedelta(minutes=self.minutes)
        locked = LoginFailure.objects.filter(
            login=key, source=scope, count__gte=self.maximum, locked_until__isnull=True
        ).update(locked_until=locked_until, count=0)
        return locked_until if locked else None

    @staticmethod
    def release(key: str, scope: str) -> None:
        """The attempt was not a failure after all (nobody could check the password)."""
        with transaction.atomic():
            LoginFailure.objects.filter(login=key, source=scope, count__gt=0).update(count=F("count") - 1)
            LoginFailure.objects.filter(login=key, source=scope, count=0, locked_until__isnull=True).delete()

    @staticmethod
    def forget(keys: set[str], scopes: Iterable[str]) -> None:
        """A successful login: the failures of these keys in these scopes are forgotten (a customer's
        login may also be a staff user's name, whose failures are another scope's)."""
        LoginFailure.objects.filter(login__in=keys, source__in=list(scopes)).delete()


def lift_login_locks(locks: Iterable[tuple[str, str]], *, acting_user: Any = None) -> int:
    """Lift the locks of (login or client address, scope) pairs and forget their failures, whether a lock
    is set yet or not: one history entry for each (the admin's "Login locks" screen, `lift_login_lock`).
    Returns how many were found."""
    lifted = 0
    with transaction.atomic():
        for key, scope in locks:
            failure = LoginFailure.objects.select_for_update().filter(login=key, source=scope).first()
            if failure is None:
                continue
            until = failure.locked_until
            failure.delete()
            history.record(
                "login.lock_lifted", "login", key, actor=acting_user, scope=scope, failures=failure.count,
                locked_until=until.isoformat() if until else "",
            )  # fmt: skip
            lifted += 1
    return lifted


def customer_login_lock() -> LoginLock:
    """`PasswordMaxLoginFailed` (the reference's name), when set, or `CustomerLoginMaxFailed`."""
    options = settings.HELPDESK_SETTINGS
    maximum = int(options.get("PasswordMaxLoginFailed") or options.get("CustomerLoginMaxFailed") or 0)
    return LoginLock(maximum, int(options.get("CustomerLoginLockMinutes") or 0))


TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def generate_login_token(login: str) -> str:
    """R92: a random 14-character token in the `UserToken` preference, for a one-time login link."""
    token = "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(14))
    CustomerUserPreference.objects.update_or_create(login=login, key="UserToken", defaults={"value": token})
    return token


def check_login_token(login: str, token: str) -> bool:
    """R92: true once for the matching token, which is then cleared; compared in constant time."""
    with transaction.atomic():
        stored = (
            CustomerUserPreference.objects.select_for_update()
            .filter(login=login, key="UserToken")
            .exclude(value="")
            .first()
        )
        if stored is None or not token or not secrets.compare_digest(stored.value, token):
            return False
        stored.value = ""
        stored.save(update_fields=["value"])
    return True
