"""Read the customer-user configuration from settings or from the TOML file named by HELPDESK_CONFIG.

The TOML file has one table per source, named as in the reference (`[CustomerUser]`, `[CustomerUser1]` …
`[CustomerUser10]`, with `Map` as an array of arrays and `[CustomerUser.Params]` as a sub-table), and a
`[Settings]` table for the global options of the permission service. This module only parses; the keys are
validated by the system checks of `backends` (a bad source never reaches a request).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

SETTINGS_TABLE = "Settings"

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
        ["UserTitle", "Title or salutation", "title", 1, 0, "var", "", 0],
        ["UserFirstname", "Firstname", "first_name", 1, 1, "var", "", 0],
        ["UserLastname", "Lastname", "last_name", 1, 1, "var", "", 0],
        ["UserLogin", "Username", "login", 1, 1, "var", "", 0],
        ["UserPassword", "Password", "pw", 0, 0, "var", "", 0],
        ["UserEmail", "Email", "email", 1, 1, "var", "", 0],
        ["UserCustomerID", "CustomerID", "customer_id", 0, 1, "var", "", 0],
        ["UserPhone", "Phone", "phone", 1, 0, "var", "", 0],
        ["UserFax", "Fax", "fax", 1, 0, "var", "", 0],
        ["UserMobile", "Mobile", "mobile", 1, 0, "var", "", 0],
        ["UserStreet", "Street", "street", 1, 0, "var", "", 0],
        ["UserZip", "Zip", "zip", 1, 0, "var", "", 0],
        ["UserCity", "City", "city", 1, 0, "var", "", 0],
        ["UserCountry", "Country", "country", 1, 0, "var", "", 0],
        ["UserComment", "Comment", "comments", 1, 0, "var", "", 0],
        ["ValidID", "Valid", "valid_id", 0, 1, "int", "", 0],
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
    # R160: customer-user attributes copied into a ticket's dynamic fields, {attribute: dynamic field}.
    "DynamicFieldFromCustomerUserMapping": {},
}


# Settings that are on or off: 0/1 as the reference writes them, or TOML booleans.
FLAGS = {"CustomerDisableCompanyTicketAccess", "PasswordMin2Lower2UpperCharacters", "PasswordMin2Characters",
         "PasswordNeedDigit"}  # fmt: skip


def settings_problems(options: dict[str, Any]) -> list[str]:
    """What is wrong with a [Settings] table, key by key."""
    problems = []
    for key, value in options.items():
        if key not in DEFAULT_SETTINGS:
            problems.append(f"[{SETTINGS_TABLE}] {key}: unknown key; known: {', '.join(DEFAULT_SETTINGS)}")
        elif isinstance(DEFAULT_SETTINGS[key], dict) and not (
            isinstance(value, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        ):
            problems.append(
                f'[{SETTINGS_TABLE}] {key}: must be a table of attribute = "field", not {value!r}'
            )
        elif isinstance(DEFAULT_SETTINGS[key], list) and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            problems.append(f"[{SETTINGS_TABLE}] {key}: must be a list of strings, not {value!r}")
        elif isinstance(DEFAULT_SETTINGS[key], int) and (
            (isinstance(value, bool) and key not in FLAGS) or not isinstance(value, int) or value < 0
        ):
            problems.append(f"[{SETTINGS_TABLE}] {key}: must be a whole number ≥ 0, not {value!r}")
    return problems


@dataclass(frozen=True)
class HelpdeskConfig:
    customer_user_backends: dict[str, dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)


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
    global_options = raw.pop(SETTINGS_TABLE, {})
    if not isinstance(global_options, dict):
        raise ImproperlyConfigured(f"HELPDESK_CONFIG={path!r}: [{SETTINGS_TABLE}] must be a table")
    problems = settings_problems(global_options)
    if problems:
        raise ImproperlyConfigured(f"HELPDESK_CONFIG={path!r}: " + "; ".join(problems))
    return HelpdeskConfig(
        customer_user_backends=raw,
        settings={**DEFAULT_SETTINGS, **global_options},
    )
