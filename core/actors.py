"""Who a write is recorded against."""

from __future__ import annotations

from typing import Any


def user_or_none(acting_user: Any) -> Any:
    """The staff user behind a write, or None for the system (commands, imports, the customer panel)."""
    return acting_user if getattr(acting_user, "pk", None) else None
