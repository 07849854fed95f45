"""What a new customer password must be: Django's validators (AUTH_PASSWORD_VALIDATORS), and the
reference's own policy settings mapped onto validators of the same kind:

- `PasswordMinSize` (a number of characters) → Django's MinimumLengthValidator;
- `PasswordMin2Lower2UpperCharacters` → at least two lower-case and two upper-case letters;
- `PasswordMin2Characters` → at least two letters;
- `PasswordNeedDigit` → at least one digit.

(`PasswordMaxLoginFailed` is the reference's name for `CustomerLoginMaxFailed`: see
customers.authentication.) Every path that sets a customer password (panel, admin, API, sign-up, reset)
goes through the customer-user services, which call `password_errors`; imported hashes are not passwords
and are not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import MinimumLengthValidator, get_default_password_validators
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext


class _Needs:
    """A password needs at least `count` characters of a kind; `message` says so in the reader's language."""

    def __init__(self, count: int, code: str, message: Callable[[int], str], test) -> None:
        self.count, self.code, self.message, self.test = count, code, message, test

    def validate(self, password: str, user: Any = None) -> None:
        if sum(1 for character in password if self.test(character)) < self.count:
            raise ValidationError(self.get_help_text(), code="password_needs_" + self.code)

    def get_help_text(self) -> str:
        return self.message(self.count)


def _needs_lower(count: int) -> str:
    return ngettext(
        "Your password must contain at least %(count)d lower-case letter.",
        "Your password must contain at least %(count)d lower-case letters.",
        count,
    ) % {"count": count}


def _needs_upper(count: int) -> str:
    return ngettext(
        "Your password must contain at least %(count)d upper-case letter.",
        "Your password must contain at least %(count)d upper-case letters.",
        count,
    ) % {"count": count}


def _needs_letters(count: int) -> str:
    return ngettext(
        "Your password must contain at least %(count)d letter.",
        "Your password must contain at least %(count)d letters.",
        count,
    ) % {"count": count}


def _needs_digits(count: int) -> str:
    return ngettext(
        "Your password must contain at least %(count)d digit.",
        "Your password must contain at least %(count)d digits.",
        count,
    ) % {"count": count}


def customer_password_validators(options: dict[str, Any] | None = None) -> list:
    options = settings.HELPDESK_SETTINGS if options is None else options
    validators = list(get_default_password_validators())  # Django's, built once (the common list is a file)
    if int(options.get("PasswordMinSize") or 0):
        validators.append(MinimumLengthValidator(int(options["PasswordMinSize"])))
    if options.get("PasswordMin2Lower2UpperCharacters"):
        validators.append(_Needs(2, "lower-case_letters", _needs_lower, str.islower))
        validators.append(_Needs(2, "upper-case_letters", _needs_upper, str.isupper))
    if options.get("PasswordMin2Characters"):
        validators.append(_Needs(2, "letters", _needs_letters, str.isalpha))
    if options.get("PasswordNeedDigit"):
        validators.append(_Needs(1, "digit", _needs_digits, str.isdigit))
    return validators


def password_errors(password: str, attributes: dict[str, Any]) -> list[str]:
    """Why this password may not be set for a customer user with these attributes (none: it may)."""
    person = get_user_model()(  # unsaved, for the validators that compare with the person's attributes
        username=str(attributes.get("UserLogin") or ""),
        first_name=str(attributes.get("UserFirstname") or ""),
        last_name=str(attributes.get("UserLastname") or ""),
        email=str(attributes.get("UserEmail") or ""),
    )
    problems = []
    for validator in customer_password_validators():
        try:
            validator.validate(password, person)
        except ValidationError as exc:
            problems.extend(exc.messages)
    return problems
