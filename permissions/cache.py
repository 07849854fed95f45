"""One generation number for every cached permission answer (R108).

Matrices and the run-time settings are cached under the current generation; every relation, setting or
customer-user write bumps it, so nothing revoked survives in a cache, whatever the cache backend.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.core.signals import setting_changed
from django.db import transaction
from django.dispatch import receiver

GENERATION_KEY = "permissions:generation"
CACHE_TTL = 20 * 24 * 3600  # R108: 20 days, and cleared by every write


def generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, 1, None)
        value = cache.get(GENERATION_KEY, 1)
    return value


def forget_permission_answers() -> None:
    """Invalidate every cached answer now and again when the current transaction commits.

    Now, so the writing request does not read its own stale answer; at commit, so a request that cached
    the old state between the write and the commit is not believed either.
    """
    _bump()
    transaction.on_commit(_bump)


def _bump() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 2, None)


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    """The seeds of the run-time settings, and the sources' group support, are part of every answer."""
    if setting in ("HELPDESK_SETTINGS", "CUSTOMER_USER_BACKENDS"):
        _bump()
