"""The one home of the Map's value rules: what a value given for a Map attribute may be.

Two steps, both here:
- `value_errors`: the shape of what a caller sent, before any source sees it. JSON and forms deliver any
  type; a source would store `["x"]` as the login `['x']`, `true` as `True`. Every value must have its
  storage type's shape (text for `var`, a whole number or digits for `int`), no text may hold NUL or a
  lone UTF-16 surrogate (no database stores them), and the keys people are found by (login, e-mail,
  customer IDs) hold no control characters at all.
- `MapRules`: a source's rules for a whole record, compiled once per source from its Map and the sizes
  its storage declares: required, whole numbers, length, NUL, the validity and, for valid users, the
  e-mail address (R56). The DB source, the LDAP source and the importer all apply these.
Cross-source and domain checks (a login free in every source, the customer exists) are the services'.
Every message names the attribute and, where it helps, the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings
from django.core.validators import EmailValidator, ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backends.config import MapRow, SourceConfig
from core.validity import Validity

KEY_ATTRIBUTES = ("UserLogin", "UserEmail", "UserCustomerID", "UserCustomerIDs")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_INT_RE = re.compile(r"^[+-]?\d{1,16}$")
PASSED_KEPT = 10_000  # texts per attribute a MapRules remembers as passed (see MapRules.errors)
VALIDITY_PROBLEM = gettext_lazy("ValidID must be 1 (valid), 2 (invalid) or 3 (invalid-temporarily).")


# The reference's Map labels that are key names rather than words (Defaults.pm and its LDAP examples), as
# words: every form, message and report that names a field goes through label_in_language.
IN_WORDS = {
    "Firstname": gettext_lazy("First name"), "Lastname": gettext_lazy("Last name"),
    "Username": gettext_lazy("Login"), "Email": gettext_lazy("E-mail address"),
    "CustomerID": gettext_lazy("Customer ID"), "CustomerIDs": gettext_lazy("More customer IDs"),
    "Zip": gettext_lazy("Postcode"), "Valid": gettext_lazy("Validity"),
}  # fmt: skip


def label_in_language(label: str) -> str:
    """A Map label in words, as the active language has it (the shipped Map's labels are in the catalogue,
    the reference's key-like ones are put in words first)."""
    if label in IN_WORDS:
        return str(IN_WORDS[label])
    return _(label) if label else label


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
    label = label_in_language(row.label) if row is not None else attribute
    whole_number = row.storage_type == "int" if row is not None else attribute == "ValidID"  # a validity
    if (
        isinstance(value, bool)
        or not isinstance(value, str | int)
        or (isinstance(value, int) and not whole_number)
    ):
        shown = {"field": label, "type": _json_type(value), "value": _shown(value)}
        if whole_number:
            return _("%(field)s must be a whole number, not %(type)s %(value)s.") % shown
        return _("%(field)s must be text, not %(type)s %(value)s.") % shown
    if not isinstance(value, str):
        return None
    if "\x00" in value:
        return _("%(field)s must not contain NUL characters (%(value)s).") % {
            "field": label,
            "value": _shown(value),
        }
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _("%(field)s holds a lone UTF-16 surrogate, which is not a character (%(value)s).") % {
            "field": label,
            "value": _shown(value),
        }
    if attribute in KEY_ATTRIBUTES and has_control_characters(value):
        return _control_problem(label, value)
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
        return _("%(value)s is not a valid e-mail address.") % {"value": _shown(email)}
    return None


@dataclass(frozen=True)
class ValueRule:
    """What one Map attribute's stored text must be (R12, R56): every check of `TEXT_CHECKS` that applies to
    it, in order.

    The DB source, the LDAP source, the importers, the migration and sign-up all ask `problem` for every
    value they store, so a check added to `TEXT_CHECKS` reaches every path that writes. Which checks apply
    to a rule is worked out once (a migration asks about millions of values)."""

    attribute: str
    label: str
    required: bool
    whole_number: bool
    max_length: int | None

    @property
    def is_key(self) -> bool:
        return self.attribute in KEY_ATTRIBUTES

    def problem(self, text: str) -> str | None:
        compiled = self.__dict__.get("_checks")
        if compiled is None or compiled[0] is not TEXT_CHECKS:
            compiled = (TEXT_CHECKS, tuple(check for check in TEXT_CHECKS if check.applies(self)))
            object.__setattr__(self, "_checks", compiled)  # a cache beside the frozen fields
        for check in compiled[1]:
            if problem := check(self, text):
                return problem
        return None


class TextCheck(Protocol):
    """One check of TEXT_CHECKS: the problem of a value, or None; `applies` says for which rules."""

    applies: Callable[[ValueRule], bool]

    def __call__(self, rule: ValueRule, text: str) -> str | None: ...


def text_check(applies: Callable[[ValueRule], bool] = lambda rule: True):
    """Declare a function `(rule, text) -> problem or None` a text check, for the rules `applies` names."""

    def declare(function: Callable[[ValueRule, str], str | None]) -> TextCheck:
        function.applies = applies  # type: ignore[attr-defined]
        return function  # type: ignore[return-value]

    return declare


@text_check()
def _no_nul(rule: ValueRule, text: str) -> str | None:
    if "\x00" in text:
        return _("%(field)s must not contain NUL characters.") % {"field": label_in_language(rule.label)}
    return None


@text_check(lambda rule: rule.required)
def _required(rule: ValueRule, text: str) -> str | None:
    if not text.strip():
        return _("%(field)s is required.") % {"field": label_in_language(rule.label)}
    return None


@text_check(lambda rule: rule.whole_number)
def _whole_number(rule: ValueRule, text: str) -> str | None:
    stripped = text.strip()
    if stripped and not _INT_RE.match(stripped):
        return _("%(field)s must be a whole number, not %(value)s.") % {
            "field": label_in_language(rule.label),
            "value": _shown(stripped),
        }
    return None


@text_check(lambda rule: bool(rule.max_length))
def _length(rule: ValueRule, text: str) -> str | None:
    if len(text) > rule.max_length:  # type: ignore[operator]
        return _("%(field)s has %(length)d characters; at most %(maximum)d are allowed.") % {
            "field": label_in_language(rule.label),
            "length": len(text),
            "maximum": rule.max_length,
        }
    return None


@text_check(lambda rule: rule.is_key)
def _no_control_characters_in_keys(rule: ValueRule, text: str) -> str | None:
    """The keys people are found by hold no control characters or line separators."""
    if has_control_characters(text):
        return _control_problem(label_in_language(rule.label), text)
    return None


TEXT_CHECKS: tuple[TextCheck, ...] = (
    _no_nul,
    _required,
    _whole_number,
    _length,
    _no_control_characters_in_keys,
)


def _control_problem(label: str, value: str) -> str:
    return _("%(field)s must not contain control characters or line breaks (%(value)s).") % {
        "field": label,
        "value": _shown(value),
    }


def validity_problem(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return None if text in ("", *map(str, Validity.values)) else str(VALIDITY_PROBLEM)


class MapRules:
    """A source's rules for whole records, compiled once from its Map and the sizes its storage declares
    (`size(row)`: a column's length, None where the storage declares none, as a directory)."""

    def __init__(self, config: SourceConfig, size: Callable[[MapRow], int | None]) -> None:
        self.rules = tuple(
            ValueRule(
                row.attribute,
                row.label,
                row.required and not row.is_dynamic_field,
                row.storage_type == "int",
                size(row),
            )
            for row in config.map_rows
            if not row.is_password
        )
        self.by_attribute = {rule.attribute: rule for rule in self.rules}
        # Texts each rule has passed, with the checks they passed: a bulk load repeats most values (cities,
        # names, customer IDs), and a text that passed every check passes them again. Problems are never
        # kept (their messages follow the reader's language); each set stops growing at PASSED_KEPT.
        self._passed: dict[str, set[str]] = {rule.attribute: set() for rule in self.rules}
        self._passed_checks = TEXT_CHECKS

    def errors(self, values: Mapping[str, Any]) -> dict[str, list[str]]:
        """Every problem of a record, by attribute; the e-mail address is checked once the rest holds,
        and only for a valid user (R56(6))."""
        errors: dict[str, list[str]] = {}
        if self._passed_checks is not TEXT_CHECKS:  # a check was added: nothing has passed it yet
            self._passed = {rule.attribute: set() for rule in self.rules}
            self._passed_checks = TEXT_CHECKS
        passed = self._passed
        for rule in self.rules:
            value = values.get(rule.attribute)
            text = value if value.__class__ is str else "" if value is None else str(value)
            known = passed[rule.attribute]
            if text in known:
                continue
            problem = rule.problem(text)
            if problem:
                errors[rule.attribute] = [problem]
            elif len(known) < PASSED_KEPT:
                known.add(text)
        problem = validity_problem(values.get("ValidID"))
        if problem:
            errors["ValidID"] = [problem]
        if errors:
            return errors
        if int(values.get("ValidID") or Validity.VALID) == Validity.VALID:
            problem = email_problem(str(values.get("UserEmail") or "").strip())
            if problem:
                errors["UserEmail"] = [problem]
        return errors
