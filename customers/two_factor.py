"""A second factor for customer users: TOTP (RFC 6238) codes from an authenticator app, with one-time
recovery codes; optional, or required by `[Settings] CustomerTwoFactorRequired` (true: every customer;
a list: the customers of those sources). Codes are checked with a window of one step either side and are
never accepted twice."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from backends.base import CustomerUserRecord
from core import history
from customers.authentication import LoginLock, customer_login_lock
from customers.models import CustomerUserSecondFactor

ISSUER = "Helpdesk"
RECOVERY_CODES = 8


def is_enabled(login: str) -> bool:
    return CustomerUserSecondFactor.objects.filter(login=login, confirmed_at__isnull=False).exists()


def is_required(record: CustomerUserRecord) -> bool:
    required = settings.HELPDESK_SETTINGS.get("CustomerTwoFactorRequired") or False
    return record.source in required if isinstance(required, list) else bool(required)


def begin(login: str) -> str | None:
    """A new secret being set up (an earlier unconfirmed one is replaced); return its otpauth:// URI, or
    None when a second factor is on already (an admin resets it first)."""
    factor = CustomerUserSecondFactor.objects.filter(login=login).first()
    if factor is not None and factor.confirmed_at is not None:
        return None
    factor = factor or CustomerUserSecondFactor(login=login)
    factor.secret, factor.last_step = pyotp.random_base32(), 0
    factor.save()
    return provisioning_uri(factor)


def pending_uri(login: str) -> str | None:
    factor = CustomerUserSecondFactor.objects.filter(login=login, confirmed_at__isnull=True).first()
    return provisioning_uri(factor) if factor else None


def provisioning_uri(factor: CustomerUserSecondFactor) -> str:
    return pyotp.TOTP(factor.secret).provisioning_uri(name=factor.login, issuer_name=ISSUER)


@transaction.atomic
def confirm(login: str, code: str) -> list[str] | None:
    """Turn the factor being set up on with a first right code; return the recovery codes (shown once)."""
    factor = (
        CustomerUserSecondFactor.objects.select_for_update()
        .filter(login=login, confirmed_at__isnull=True)
        .first()
    )
    if factor is None or not _accept_code(factor, code):
        return None
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    factor.confirmed_at, factor.recovery_codes = timezone.now(), [_stored_recovery_code(c) for c in codes]
    factor.save()
    history.record("customer_user.second_factor_enabled", "customer_user", login)
    return codes


SECOND_FACTOR = "second factor"  # the lock's scope: wrong codes of one account, across its logins


def code_lock() -> LoginLock:
    """Wrong codes per account, with the login lock's numbers, and never unlimited: six digits are guessed
    in a million tries, and a session is only one of many."""
    lock = customer_login_lock()
    return LoginLock(lock.maximum or 5, lock.minutes or 15)


def locked_until(login: str) -> datetime | None:
    """The end of the account's lock for wrong codes, if it is locked."""
    return code_lock().locked(login.casefold(), SECOND_FACTOR)


def verify(login: str, code: str) -> str:
    """`ok` for a code from the app (each accepted once) or an unused recovery code, `wrong`, or `locked`:
    each attempt is counted for the account before it is checked, as a password is (LoginLock)."""
    key, lock = login.casefold(), code_lock()
    if lock.reserve(key, SECOND_FACTOR) is not None:
        return "locked"
    if _verify(login, code):
        LoginLock.forget({key}, [SECOND_FACTOR])
        return "ok"
    return "locked" if lock.failed(key, SECOND_FACTOR) is not None else "wrong"


@transaction.atomic
def _verify(login: str, code: str) -> bool:
    factor = (
        CustomerUserSecondFactor.objects.select_for_update()
        .filter(login=login, confirmed_at__isnull=False)
        .first()
    )
    if factor is None:
        return False
    code = (code or "").strip().replace(" ", "")
    if _accept_code(factor, code):
        return True
    stored = _matching_recovery_code(factor.recovery_codes, code)
    if stored is None:
        return False
    factor.recovery_codes = [c for c in factor.recovery_codes if c != stored]
    factor.save(update_fields=["recovery_codes"])
    left = len(factor.recovery_codes)
    history.record("customer_user.recovery_code_used", "customer_user", login, left=left)
    return True


def _stored_recovery_code(code: str) -> str:
    """`keyed$<HMAC of the code>$<Django hash of it>`: the digest finds the one candidate, the hash is the
    one slow check (not one hash per stored code under a row lock)."""
    return f"keyed${_digest(code)}${make_password(code)}"


def _matching_recovery_code(stored_codes: list[str], code: str) -> str | None:
    if not code:
        return None
    prefix = f"keyed${_digest(code)}$"
    for stored in stored_codes:
        if stored.startswith(prefix):
            return stored if check_password(code, stored[len(prefix) :]) else None
    legacy = [s for s in stored_codes if not s.startswith("keyed$")]  # codes made before the digest
    return next((s for s in legacy if check_password(code, s)), None)


def _digest(code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"recovery-code:{code}".encode(), hashlib.sha256).hexdigest()


def reset(login: str, *, acting_user) -> bool:
    """Remove a customer user's second factor (an admin, for a lost phone); return whether there was one."""
    removed, _ = CustomerUserSecondFactor.objects.filter(login=login).delete()
    if removed:
        history.record("customer_user.second_factor_reset", "customer_user", login, actor=acting_user)
    return bool(removed)


def _accept_code(factor: CustomerUserSecondFactor, code: str) -> bool:
    """Six digits of this time step or one either side, newer than the last one accepted (no replay)."""
    code = (code or "").strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return False
    totp = pyotp.TOTP(factor.secret)
    now = int(timezone.now().timestamp()) // totp.interval
    for step in (now - 1, now, now + 1):
        if step > factor.last_step and secrets.compare_digest(totp.generate_otp(step), code):
            factor.last_step = step
            factor.save(update_fields=["last_step"])
            return True
    return False
