"""System checks of the deployment: caches that only one process sees break "who may see what"."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.checks import CheckMessage, Warning, register
from django.core.files.storage import storages

# Each process (or each machine) keeps its own copy: a revoked permission or a changed name stays visible
# in the others. Measured with two gunicorn workers on local memory: 45-56 of 100 reads stale.
PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "each worker process",
    "django.core.cache.backends.filebased.FileBasedCache": "each machine",
}


@register("caches", deploy=False)
def check_shared_cache(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DEBUG:
        return []
    messages: list[CheckMessage] = []
    for alias, config in settings.CACHES.items():
        scope = PER_PROCESS_CACHES.get(config.get("BACKEND", ""))
        if scope:
            messages.append(
                Warning(
                    f"CACHES[{alias!r}] uses {config['BACKEND']}, which {scope} keeps for itself: what one "
                    "process learns (a source that is down, cached answers) is not shared.",
                    hint="Leave CACHE_BACKEND unset (the database cache) or set "
                    "CACHE_BACKEND=django.core.cache.backends.redis.RedisCache and CACHE_LOCATION=redis://….",
                    obj="settings.CACHES",
                    id="core.W001",
                )
            )
    return messages


@register("staticfiles", deploy=True)
def check_static_files_collected(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`check --deploy`: without collectstatic every page that links a stylesheet fails in production."""
    storage = storages["staticfiles"]
    if settings.DEBUG or not isinstance(storage, ManifestFilesMixin) or storage.exists(storage.manifest_name):
        return []
    return [
        Warning(
            f"The static files are not collected in STATIC_ROOT ({settings.STATIC_ROOT}).",
            hint="Run `manage.py collectstatic --noinput` after every upgrade (README: Production).",
            obj="settings.STATIC_ROOT",
            id="core.W002",
        )
    ]
