"""What the DB source's parts share: limits, and a value between its storage and a record."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from backends.config import MapRow

EXTRA_ATTRIBUTE_MAX_LENGTH = 1000
NUL = "\x00"  # the databases store no NUL, and PostgreSQL refuses it in a query: such input matches nothing
COUNT_CAP = 200  # a truncated search counts its matches up to this many (beyond: unknown)
TALLY_FOLD = 500  # rows of `customer_user_tally` beyond which a count folds them
INT_RE = re.compile(r"^[+-]?\d{1,16}$")


def case_sensitive(params: Mapping[str, Any]) -> bool:
    """R11: searches are case-sensitive by SearchCaseSensitive if defined, else CaseSensitive, else not."""
    return truthy_value(params.get("SearchCaseSensitive", params.get("CaseSensitive", 0)))


def truthy_value(value: Any) -> bool:
    return value not in (None, "", 0, "0", False)


def from_storage(value: Any, row: MapRow) -> Any:
    if value.__class__ is str and row.storage_type != "int":
        return value
    if row.storage_type == "int":
        try:
            return int(value or 0)
        except (TypeError, ValueError):
            return 0
    if isinstance(value, datetime):
        return value
    return "" if value is None else str(value)


def to_storage(value: Any, row: MapRow) -> Any:
    if row.storage_type == "int":
        text = "" if value is None else str(value).strip()
        return int(text) if text else 0  # R12: an empty int is stored as 0
    return "" if value is None else str(value).strip()


def short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…"
