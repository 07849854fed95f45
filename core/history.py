"""The one history of every change (HistoryEntry): who, when, through which path, and what.

Services call `record()`; the surfaces say who is acting and through which path with `acting()` (the
middleware does it for every request; commands and imports name themselves: `import`, `migration`,
`system`). Passwords never appear as values: an attribute change of a password is "password set".
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from core.actors import user_or_none
from core.models import HistoryEntry

PASSWORD_ATTRIBUTES = frozenset({"UserPassword", "password", "pw"})
PATHS = ("admin", "api", "panel", "command", "system")


@dataclass(frozen=True)
class Acting:
    path: str = "system"
    name: str = "system"  # `customer:<login>` in the panel; `import`, `migration` or `system` otherwise
    user: Any = None  # the staff user of a request, when the write names none


SYSTEM = Acting()
_acting: contextvars.ContextVar[Acting | None] = contextvars.ContextVar("acting", default=None)


@contextlib.contextmanager
def acting(*, path: str, name: str, user: Any = None) -> Iterator[None]:
    """Everything recorded inside is recorded as done by `name` (the staff `user`) through `path`."""
    token = _acting.set(Acting(path, name, user_or_none(user)))
    try:
        yield
    finally:
        _acting.reset(token)


def record(
    action: str,
    object_type: str,
    object_key: str,
    *,
    actor: Any = None,
    by: Acting | None = None,
    **detail: Any,
) -> HistoryEntry:
    """One entry; `actor` is the staff user of the write (else the context, or `by`, names who acted)."""
    return HistoryEntry.objects.create(**_fields(action, object_type, object_key, actor, detail, by))


def record_many(
    entries: list[tuple[str, str, str, dict[str, Any]]], *, actor: Any = None, by: Acting | None = None
) -> None:
    """Many entries in one statement; `by` names who acts where no request or command context reaches
    (an import's writer threads)."""
    HistoryEntry.objects.bulk_create(
        [
            HistoryEntry(**_fields(action, kind, key, actor, detail, by))
            for action, kind, key, detail in entries
        ]
    )


IMPORT = Acting("command", "import")  # who writes an import's history (its writer threads see no context)
IMPORTED = ("customer_users.imported", "customers.imported")  # one entry per batch: detail["keys"] lists rows


def record_import(action: str, file: str, keys: list[str], **detail: Any) -> None:
    """One entry for a committed batch of an import, listing the keys it wrote; an object's history
    finds it by its key (history_of)."""
    if keys:
        record(action, "import", file, by=IMPORT, keys=keys, **detail)


def _fields(
    action: str,
    object_type: str,
    object_key: str,
    actor: Any,
    detail: Mapping[str, Any],
    by: Acting | None = None,
) -> dict:
    context = by or _acting.get() or SYSTEM
    user = user_or_none(actor) or context.user
    return {
        "actor": user,
        "actor_name": user.get_username() if user is not None else context.name,
        "path": context.path,
        "action": action,
        "object_type": object_type,
        "object_key": str(object_key)[:200],
        "detail": dict(detail),
    }


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """`{attribute: [old, new]}` of what differs; a password only as "password set" (never a value)."""
    changed: dict[str, list[Any]] = {}
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        if _plain(old) == _plain(new):
            continue
        if key in PASSWORD_ATTRIBUTES:
            changed[key] = ["", "password set"]
        else:
            changed[key] = [_plain(old), _plain(new)]
    return changed


def _plain(value: Any) -> Any:
    if value is None:
        return ""
    return value if isinstance(value, str | int | float | bool | list | dict) else str(value)


# ------------------------------------------------------------------------------------------- reads
def history_of(object_type: str, object_key: str):
    """Every entry about one object, newest first (its key compared case-blind), the import batches that
    wrote it included."""
    from django.db.models import Q

    batch = IMPORT_BATCHES.get(object_type)
    about = Q(object_type=object_type, object_key__iexact=object_key)
    if batch:
        about |= Q(action=batch, detail__icontains=json.dumps(object_key, ensure_ascii=False))
    return HistoryEntry.objects.filter(about)


def audit_log(*, actor: str = "", action: str = "", object_type: str = "", object_key: str = "",
              since=None, until=None):  # fmt: skip
    """Entries matching every filter given, newest first: `actor` a staff user, `customer:<login>`,
    `import`, `migration` or `system`; `action` exact or a prefix ending in `.` (`customer_user.`)."""
    entries = HistoryEntry.objects.all()
    if actor:
        entries = entries.filter(actor_name__iexact=actor)
    if action:
        entries = (
            entries.filter(action__startswith=action)
            if action.endswith(".")
            else entries.filter(action=action)
        )
    if object_type and object_key:
        entries = entries & history_of(object_type, object_key)
    elif object_type:
        entries = entries.filter(object_type=object_type)
    elif object_key:
        entries = entries.filter(object_key__iexact=object_key)
    if since is not None:
        entries = entries.filter(at__gte=since)
    if until is not None:
        entries = entries.filter(at__lt=until)
    return entries


def purge_history(*, older_than_days: int) -> int:
    """Remove the entries older than this many days; return how many (retention, `purge_history`)."""
    from datetime import timedelta

    removed, _ = HistoryEntry.objects.filter(at__lt=timezone.now() - timedelta(days=older_than_days)).delete()
    return removed


ANONYMISED = "(anonymised)"
IMPORT_BATCHES = {"customer_user": "customer_users.imported", "customer": "customers.imported"}
NOT_PERSONAL = frozenset({"UserCustomerID", "UserCustomerIDs", "ValidID", "Source", "UserPassword"})


def anonymise(old_login: str, new_login: str, personal: list[str]) -> int:
    """Keep every entry about a person, without their personal values, and touch nobody else's: the entries
    about them (`history_of`, by the old or the new login, and what they did in the panel) move to the new
    login; in each, every value of a personal attribute, old and new alike, and every text holding the old
    login or a current personal value becomes "(anonymised)". An import batch that wrote them only loses
    their login from its list. Return how many entries changed."""
    needles = [n for n in dict.fromkeys([old_login, *personal]) if n and len(n) >= 2]
    lowered = [n.casefold() for n in needles]

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return ANONYMISED if any(n in value.casefold() for n in lowered) else value
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, dict):
            return {(ANONYMISED if isinstance(k, str) and k.casefold() in lowered else k): scrub(v)
                    for k, v in value.items()}  # fmt: skip
        return value

    def without_personal_values(changes: Any) -> Any:
        if not isinstance(changes, dict):
            return scrub(changes)
        return {
            name: [ANONYMISED if v else v for v in values]
            if isinstance(values, list) and name not in NOT_PERSONAL
            else scrub(values)
            for name, values in changes.items()
        }

    about = (
        history_of("customer_user", old_login)
        | history_of("customer_user", new_login)
        | HistoryEntry.objects.filter(actor_name__iexact=f"customer:{old_login}")
    )
    changed = 0
    for entry in about.distinct().iterator(chunk_size=500):
        if entry.action == IMPORT_BATCHES["customer_user"]:
            keys = entry.detail.get("keys") or []
            entry.detail = {**entry.detail, "keys": [new_login if k.casefold() == old_login.casefold() else k
                                                      for k in keys]}  # fmt: skip
            entry.save(update_fields=["detail"])
            changed += 1
            continue
        if entry.object_key.casefold() == old_login.casefold():
            entry.object_key = new_login
        if entry.actor_name.casefold() == f"customer:{old_login}".casefold():
            entry.actor_name = f"customer:{new_login}"
        detail = dict(entry.detail)
        if "changes" in detail:
            detail["changes"] = without_personal_values(detail["changes"])
        entry.detail = scrub(detail)
        entry.save(update_fields=["object_key", "actor_name", "detail"])
        changed += 1
    return changed


def as_of_person(entry: HistoryEntry, object_type: str, object_key: str) -> dict[str, Any]:
    """An entry's detail as one person's export shows it: an import batch contributes their own row only."""
    if entry.action != IMPORT_BATCHES.get(object_type):
        return entry.detail
    mine = [k for k in entry.detail.get("keys") or [] if k.casefold() == object_key.casefold()]
    return {**entry.detail, "keys": mine}
