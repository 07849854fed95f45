"""How a directory source takes part in the lifecycle: its sync keys, parsed once, and the presets that
say which entries a directory has disabled (issue "directory lifecycle")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from huey import crontab

from backends.config import ConfigProblem, truthy

DEFAULT_GUARD_PERCENT = 10.0
DEFAULT_IDENTITY = "entryUUID"


def _locked_time(values: list[str]) -> bool:
    return bool(values)


def _ns_account_lock(values: list[str]) -> bool:
    return any(v.strip().casefold() == "true" for v in values)


def _account_disabled(values: list[str]) -> bool:
    return any(v.strip().lstrip("-").isdigit() and int(v) & 2 for v in values)


@dataclass(frozen=True)
class DisabledPreset:
    """Where one kind of directory marks a disabled account: the attribute to read (operational ones are
    named explicitly), the filter that finds disabled entries, and the test of its values."""

    name: str
    attribute: str
    filter: str
    test: Callable[[list[str]], bool]

    def reason(self, values: list[str]) -> str:
        """Why an entry with these values of `attribute` is disabled, or "" when it is not."""
        return f"{self.attribute}: {values[0]}" if values and self.test(values) else ""


PRESETS: Mapping[str, DisabledPreset] = {
    # OpenLDAP's ppolicy overlay: a locked account has pwdAccountLockedTime (000001010000Z: for good).
    "openldap-ppolicy": DisabledPreset(
        "openldap-ppolicy", "pwdAccountLockedTime", "(pwdAccountLockedTime=*)", _locked_time
    ),
    # 389-DS and FreeIPA: nsAccountLock: TRUE (an operational attribute).
    "389ds": DisabledPreset("389ds", "nsAccountLock", "(nsAccountLock=TRUE)", _ns_account_lock),
    # Active Directory: bit 2 (ACCOUNTDISABLE) of userAccountControl, by the bitwise AND matching rule.
    "ad": DisabledPreset(
        "ad", "userAccountControl", "(userAccountControl:1.2.840.113556.1.4.803:=2)", _account_disabled
    ),
}


def cron(expression: str) -> Callable:
    """A five-field cron expression (minute hour day month weekday) as the job engine's schedule."""
    fields = str(expression).split()
    if len(fields) != 5:
        raise ValueError(f"{expression!r} needs five fields: minute hour day month weekday")
    return crontab(*fields)


@dataclass(frozen=True)
class SyncSettings:
    """A source's sync keys as they take effect (off unless `Sync = true`)."""

    enabled: bool = False
    schedule: str = ""
    incremental_schedule: str = ""
    guard_percent: float = DEFAULT_GUARD_PERCENT
    identity: str = DEFAULT_IDENTITY
    disabled: DisabledPreset | None = None

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> SyncSettings:
        preset = raw.get("DisabledPreset")
        return cls(
            enabled=truthy(raw.get("Sync")),
            schedule=str(raw.get("SyncSchedule") or ""),
            incremental_schedule=str(raw.get("SyncIncrementalSchedule") or ""),
            guard_percent=float(raw.get("SyncGuardPercent", DEFAULT_GUARD_PERCENT)),
            identity=str(raw.get("IdentityAttribute") or DEFAULT_IDENTITY),
            disabled=PRESETS[preset] if preset else None,
        )


def sync_problems(raw: Mapping[str, Any]) -> list[ConfigProblem]:
    """What is wrong with a directory source's sync keys, each named by its path."""
    problems = []

    def problem(key: str, message: str, hint: str = "") -> None:
        problems.append(ConfigProblem(f"[{key!r}]", message, hint=hint, check_id="backends.E045"))

    if "Sync" in raw and not isinstance(raw["Sync"], bool | int):
        problem("Sync", f"must be true or false, not {raw['Sync']!r}")
    for key in ("SyncSchedule", "SyncIncrementalSchedule"):
        if raw.get(key) is not None:
            try:
                cron(raw[key])
            except (ValueError, TypeError) as exc:
                problem(key, f"{raw[key]!r} is not a cron expression: {exc}", "For example '0 3 * * *'.")
    guard = raw.get("SyncGuardPercent")
    if guard is not None and (
        isinstance(guard, bool) or not isinstance(guard, int | float) or not 0 <= guard <= 100
    ):
        problem("SyncGuardPercent", f"must be a number from 0 to 100, not {guard!r}")
    identity = raw.get("IdentityAttribute")
    if identity is not None and (not isinstance(identity, str) or not identity.strip()):
        problem(
            "IdentityAttribute",
            f"must name an attribute (entryUUID, nsUniqueId, objectGUID), not {identity!r}",
        )
    preset = raw.get("DisabledPreset")
    if preset is not None and preset not in PRESETS:
        problem("DisabledPreset", f"{preset!r} is no preset", f"Use one of: {', '.join(PRESETS)}.")
    return problems
