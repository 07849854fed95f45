"""Read the customer-user configuration from settings or from the TOML file named by HELPDESK_CONFIG.

The TOML file has one table per source, named as in the reference (`[CustomerUser]`, `[CustomerUser1]` …
`[CustomerUser10]`, with `Map` as an array of arrays and `[CustomerUser.Params]` as a sub-table), and a
`[Settings]` table for the global options of the permission service, and `[[IdentityProvider]]` tables for
customer single sign-on. This module only parses; the keys are validated by the system checks of `backends`
and `provisioning` (a bad source or provider never reaches a request).
"""

from __future__ import annotations

import copy
import difflib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

SETTINGS_TABLE = "Settings"
PROVIDERS_ARRAY = "IdentityProvider"  # [[IdentityProvider]]: customer single sign-on (provisioning)


def gettext_noop(text: str) -> str:
    """Mark a Map label for the catalogue (makemessages); the screens translate it. Not Django's, which
    reads the settings this module is loaded by."""
    return text


# The reference's shipped DB source (Kernel/Config/Defaults.pm), over our own `customer_user` table.
DEFAULT_CUSTOMER_USER_SOURCE: dict[str, Any] = {
    "Name": "Database Backend",
    "Module": "DB",
    "Params": {"Table": "customer_user", "CaseSensitive": 0},
    "CustomerKey": "login",
    "CustomerID": "customer_id",
    "CustomerValid": "valid_id",
    "CustomerUserListFields": ["first_name", "last_name", "email"],
    "CustomerUserSearchFields": ["login", "first_name", "last_name", "customer_id"],
    "CustomerUserSearchPrefix": "*",
    "CustomerUserSearchSuffix": "*",
    "CustomerUserSearchListLimit": 250,
    "CustomerUserPostMasterSearchFields": ["email"],
    "CustomerUserNameFields": ["title", "first_name", "last_name"],
    "CustomerUserEmailUniqCheck": 1,
    "CustomerCompanySupport": 1,
    # The reference ships group support off; this product is about group permissions, so ours is on.
    "CustomerGroupSupport": 1,
    "CacheTTL": 86400,
    "Map": [
        ["UserTitle", gettext_noop("Title or salutation"), "title", 1, 0, "var", "", 0],
        ["UserFirstname", gettext_noop("Firstname"), "first_name", 1, 1, "var", "", 0],
        ["UserLastname", gettext_noop("Lastname"), "last_name", 1, 1, "var", "", 0],
        ["UserLogin", gettext_noop("Username"), "login", 1, 1, "var", "", 0],
        ["UserPassword", gettext_noop("Password"), "pw", 0, 0, "var", "", 0],
        ["UserEmail", gettext_noop("Email"), "email", 1, 1, "var", "", 0],
        ["UserCustomerID", gettext_noop("CustomerID"), "customer_id", 0, 1, "var", "", 0],
        ["UserPhone", gettext_noop("Phone"), "phone", 1, 0, "var", "", 0],
        ["UserFax", gettext_noop("Fax"), "fax", 1, 0, "var", "", 0],
        ["UserMobile", gettext_noop("Mobile"), "mobile", 1, 0, "var", "", 0],
        ["UserStreet", gettext_noop("Street"), "street", 1, 0, "var", "", 0],
        ["UserZip", gettext_noop("Zip"), "zip", 1, 0, "var", "", 0],
        ["UserCity", gettext_noop("City"), "city", 1, 0, "var", "", 0],
        ["UserCountry", gettext_noop("Country"), "country", 1, 0, "var", "", 0],
        ["UserComment", gettext_noop("Comment"), "comments", 1, 0, "var", "", 0],
        ["ValidID", gettext_noop("Valid"), "valid_id", 0, 1, "int", "", 0],
    ],
    "Selections": {},
}

# Global options (reference SysConfig names), seeding the run-time values an admin can change.
DEFAULT_SETTINGS: dict[str, Any] = {
    "CustomerGroupAlwaysGroups": ["users"],
    "CustomerGroupCompanyAlwaysGroups": ["users"],
    "CustomerPermissionTypes": ["ro", "rw"],
    "CustomerDisableCompanyTicketAccess": 0,
    # Customer login (R85–R87): the sources to try, in order (empty: every source, R10 order); failed
    # logins per user and source before the account is locked, and for how long (0: never locked).
    "CustomerAuthModules": [],
    "CustomerLoginMaxFailed": 5,
    "CustomerLoginLockMinutes": 15,
    # The reference's password policy (customers/passwords.py), on top of AUTH_PASSWORD_VALIDATORS; 0: off.
    # `PasswordMaxLoginFailed`, when set, is the reference's name for CustomerLoginMaxFailed.
    "PasswordMinSize": 0,
    "PasswordMin2Lower2UpperCharacters": 0,
    "PasswordMin2Characters": 0,
    "PasswordNeedDigit": 0,
    "PasswordMaxLoginFailed": 0,
    # R56(6): the syntax of valid customer users' e-mail addresses is checked (RFC 5322 and 6531); 0: not.
    "CheckEmailAddresses": 1,
    # R160: customer-user attributes copied into a ticket's dynamic fields, {attribute: dynamic field}.
    "DynamicFieldFromCustomerUserMapping": {},
    # Sign-up in the panel (off, as the reference ships it); the addresses allowed and refused, as lists of
    # regular expressions (an empty allow-list allows every address the refuse-list does not refuse); and
    # (ours) the customer new accounts belong to: empty, the e-mail address, as the reference does.
    "CustomerPanelCreateAccount": 0,
    "CustomerPanelCreateAccountWhitelist": [],
    "CustomerPanelCreateAccountBlacklist": [],
    "CustomerPanelCreateAccountCustomerID": "",
    # A second factor (TOTP) at the panel's login: optional (false), required of every customer (true), or
    # of the customers of the sources listed (["CustomerUser1"]).
    "CustomerTwoFactorRequired": False,
}


# The reference's names for the same settings (quoted keys in TOML: `"System::Customer::Permission" = […]`).
REFERENCE_NAMES = {
    "System::Customer::Permission": "CustomerPermissionTypes",
    "DynamicFieldFromCustomerUser::Mapping": "DynamicFieldFromCustomerUserMapping",
    "CustomerPanelCreateAccount::MailRestrictions::Whitelist": "CustomerPanelCreateAccountWhitelist",
    "CustomerPanelCreateAccount::MailRestrictions::Blacklist": "CustomerPanelCreateAccountBlacklist",
    "CustomerPanelCreateAccount::CustomerID": "CustomerPanelCreateAccountCustomerID",
}
# OTRS 3 set CustomerGroupSupport globally: it is then the default of every source that does not set it.
SOURCE_DEFAULTS = ("CustomerGroupSupport",)

# Settings that are on or off: 0/1 as the reference writes them, or TOML booleans.
FLAGS = {"CustomerDisableCompanyTicketAccess", "PasswordMin2Lower2UpperCharacters", "PasswordMin2Characters",
         "PasswordNeedDigit", "CheckEmailAddresses", "CustomerPanelCreateAccount"}  # fmt: skip


def settings_problems(options: dict[str, Any]) -> list[str]:
    """What is wrong with a [Settings] table, key by key (reference names already translated)."""
    return [f"[{SETTINGS_TABLE}] {key}: {problem}" for key, problem in _problems(options)]


def _hint(key: str) -> str:
    close = difflib.get_close_matches(key, [*DEFAULT_SETTINGS, *REFERENCE_NAMES, *SOURCE_DEFAULTS], n=1)
    return f"Did you mean {close[0]!r}?" if close else f"Known keys: {', '.join(DEFAULT_SETTINGS)}."


def _bad_pattern(patterns: list[str]) -> str:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            return f"{pattern!r} is not a regular expression ({exc})"
    return ""


def _problems(options: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, what is wrong with its value) for each bad key."""
    problems = []
    for key, value in options.items():
        default = DEFAULT_SETTINGS.get(key)
        if key not in DEFAULT_SETTINGS:
            problems.append((key, "unknown key"))
        elif key == "CustomerTwoFactorRequired":
            if not (isinstance(value, bool) or value in (0, 1) or (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            )):  # fmt: skip
                problems.append((key, f"must be true, false or a list of source names, not {value!r}"))
        elif isinstance(default, dict) and not (
            isinstance(value, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        ):
            problems.append((key, f'must be a table of attribute = "field", not {value!r}'))
        elif isinstance(default, list) and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            problems.append((key, f"must be a list of strings, not {value!r}"))
        elif key.endswith(("Whitelist", "Blacklist")) and (bad := _bad_pattern(value)):
            problems.append((key, bad))
        elif isinstance(default, str) and not isinstance(value, str):
            problems.append((key, f"must be text, not {value!r}"))
        elif key in FLAGS and not (isinstance(value, bool) or value in (0, 1)):
            problems.append((key, f"must be true or false (or 1 or 0), not {value!r}"))
        elif (
            isinstance(default, int)
            and key not in FLAGS
            and (isinstance(value, bool) or not isinstance(value, int) or value < 0)
        ):
            problems.append((key, f"must be a whole number ≥ 0, not {value!r}"))
    return problems


@dataclass(frozen=True)
class HelpdeskConfig:
    customer_user_backends: dict[str, dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)
    problems: tuple[tuple[str, str], ...] = ()  # (problem, hint) of [Settings]: system checks helpdesk.E001
    identity_providers: list[Any] = field(default_factory=list)  # as written; checked by provisioning.E002


def translate_settings(options: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A [Settings] table under our names, flags as 0/1, and (problem, hint) for each key that is wrong
    (left out: its default applies, and `manage.py check` reports it)."""
    translated: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for key, value in options.items():
        ours = REFERENCE_NAMES.get(key, key)
        if ours in translated:
            problems.append(
                (f"[{SETTINGS_TABLE}] {key}: the same setting as {given_as[ours]!r}", "Keep one.")
            )
            continue
        given_as[ours] = key
        translated[ours] = int(value) if ours in FLAGS and isinstance(value, bool) else value
    bad = _problems({k: v for k, v in translated.items() if k not in SOURCE_DEFAULTS})
    problems += [
        (f"[{SETTINGS_TABLE}] {key}: {problem}", _hint(key) if problem == "unknown key" else "")
        for key, problem in bad
    ]
    wrong = {key for key, _ in bad}
    return {k: v for k, v in translated.items() if k not in wrong}, problems


def load_helpdesk_config(path: str | None) -> HelpdeskConfig:
    """Return the sources and global options from `path`, or the shipped defaults without one."""
    if not path:
        return HelpdeskConfig(
            customer_user_backends={"CustomerUser": DEFAULT_CUSTOMER_USER_SOURCE},
            settings=dict(DEFAULT_SETTINGS),
        )
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ImproperlyConfigured(f"HELPDESK_CONFIG={path!r}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(f"HELPDESK_CONFIG={path!r}: cannot be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ImproperlyConfigured(f"HELPDESK_CONFIG={path!r}: not valid TOML: {exc}") from exc
    identity_providers = raw.pop(PROVIDERS_ARRAY, [])
    global_options = raw.pop(SETTINGS_TABLE, {})
    if not isinstance(global_options, dict):
        raise ImproperlyConfigured(f"HELPDESK_CONFIG={path!r}: [{SETTINGS_TABLE}] must be a table")
    options, problems = translate_settings(global_options)
    if not raw:  # only [Settings]: the shipped database source, as without a file
        raw = {"CustomerUser": copy.deepcopy(DEFAULT_CUSTOMER_USER_SOURCE)}
    for key in SOURCE_DEFAULTS:
        if key in options:
            default = options.pop(key)
            for source in raw.values():
                if isinstance(source, dict):
                    source.setdefault(key, int(default) if isinstance(default, bool) else default)
    return HelpdeskConfig(
        customer_user_backends=raw,
        settings={**DEFAULT_SETTINGS, **options},
        problems=tuple(problems),
        identity_providers=providers if isinstance(providers := identity_providers, list) else [providers],
    )


@checks.register("helpdesk")
def check_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """[Settings] problems, as system checks with ids and hints, like the sources' (backends.E0xx)."""
    from django.conf import settings

    return [
        checks.Error(problem, hint=hint or None, id="helpdesk.E001", obj="HELPDESK_CONFIG")
        for problem, hint in getattr(settings, "HELPDESK_SETTINGS_PROBLEMS", ())
    ]
