"""What a value given for a Map attribute may be, checked once, before any source sees it.

JSON and forms deliver any type; a source would store `["x"]` as the login `['x']`, `true` as `True`.
Here every value must have its storage type's shape (text for `var`, a whole number or digits for `int`),
no text may hold NUL or a lone UTF-16 surrogate (no database stores them), and the keys people are found
by (login, e-mail, customer IDs) hold no control characters at all. Every message names the attribute
and the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.validators import EmailValidator, ValidationError

from backends.config import SourceConfig

KEY_ATTRIBUTES = ("UserLogin", "UserEmail", "UserCustomerID", "UserCustomerIDs")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def value_errors(config: SourceConfig, values: Mapping[str, Any]) -> dict[str, list[str]]:
    """`{attribute: [message]}` for every value of the wrong shape; empty when all may be stored."""
    errors: dict[str, list[str]] = {}
    for attribute, value in values.items():
        problem = _problem(config, attribute, value)
        if problem:
            errors[attribute] = [problem]
    return errors


def _problem(config: SourceConfig, attribute: str, value: Any) -> str | None:
    if value is None:
        return None
    row = config.row(attribute)
    label = row.label if row is not None else attribute
    whole_number = row is not None and row.storage_type == "int"
    if (
        isinstance(value, bool)
        or not isinstance(value, str | int)
        or (isinstance(value, int) and not whole_number)
    ):
        expected = "a whole number" if whole_number else "text"
        return f"{label} must be {expected}, not {_json_type(value)} {_shown(value)}."
    if not isinstance(value, str):
        return None
    if "\x00" in value:
        return f"{label} must not contain NUL characters ({_shown(value)})."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return f"{label} holds a lone UTF-16 surrogate, which is not a character ({_shown(value)})."
    if attribute in KEY_ATTRIBUTES and has_control_characters(value):
        return f"{label} must not contain control characters or line breaks ({_shown(value)})."
    return None


def has_control_characters(text: str) -> bool:
    return bool(_CONTROL.search(text))


def _json_type(value: Any) -> str:
    return {bool: "true/false", list: "a list", dict: "an object", float: "a number"}.get(
        type(value), "a value"
    )


def _shown(value: Any) -> str:
    text = repr(value).encode("utf-8", "backslashreplace").decode()
    return text if len(text) <= 60 else text[:57] + "…"


class _InternationalEmailValidator(EmailValidator):
    """Django's check, with internationalised local parts (RFC 6531: `unittest-ä1@example.com`); the
    domain part (internationalised domains included) is Django's, each domain checked once."""

    _atom = r"[-!#$%&'*+/=?^_`{}|~\w]+"
    user_regex = re.compile(
        rf"(^{_atom}(\.{_atom})*\Z"
        r'|^"([\001-\010\013\014\016-\037!#-\[\]-\177]|\\[\001-\011\013\014\016-\177])*"\Z)',
        re.IGNORECASE | re.UNICODE,
    )

    def validate_domain_part(self, domain_part: str) -> bool:
        return _domain_is_valid(domain_part)


_domain_is_valid = lru_cache(maxsize=4096)(EmailValidator().validate_domain_part)  # a file has few domains


_email = _InternationalEmailValidator()


def email_problem(email: str) -> str | None:
    """Why this e-mail address of a valid customer user is refused (R56(6)), or None; no check at all
    when `[Settings] CheckEmailAddresses` is off, as in the reference."""
    if not email or not settings.HELPDESK_SETTINGS.get("CheckEmailAddresses", 1):
        return None
    try:
        _email(email)
    except ValidationError:
        return f"{_shown(email)} is not a valid e-mail address."
    return None
