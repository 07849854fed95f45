"""The source registry: one source per configured alias, built lazily, iterated in R10 order."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any

from asgiref.local import Local
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from backends.base import BaseSource
from backends.cache import CachingSource
from backends.config import SourceConfig, ordered_aliases
from backends.errors import UnknownSource

logger = logging.getLogger(__name__)


class SourceHandler:
    """Build one source per configured alias, lazily, once per thread; iterate in R10 order."""

    def __init__(self, settings_dict: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._settings_dict = settings_dict
        self._built = Local(thread_critical=True)  # a directory connection is never shared between threads

    @cached_property
    def _built_configs(self) -> tuple[dict[str, SourceConfig], dict[str, str]]:
        raw = settings.CUSTOMER_USER_BACKENDS if self._settings_dict is None else self._settings_dict
        configs, broken = {}, {}
        for alias in ordered_aliases(raw):
            try:
                configs[alias] = SourceConfig.from_settings(alias, raw[alias])
            except ImproperlyConfigured as exc:
                logger.error("source %s is left out: %s", alias, exc)
                broken[alias] = str(exc)
        return configs, broken

    @property
    def configs(self) -> dict[str, SourceConfig]:
        """The sources that can be built; one whose configuration is wrong is left out (and reported by
        `manage.py check`, the sources page and `broken`), so the others keep working."""
        return self._built_configs[0]

    @property
    def broken(self) -> dict[str, str]:
        """Sources left out, by alias, with the first problem of each."""
        return self._built_configs[1]

    def __getitem__(self, alias: str) -> BaseSource:
        source = getattr(self._built, alias, None)
        if source is None:
            if alias in self.broken:
                raise ImproperlyConfigured(self.broken[alias])
            if alias not in self.configs:
                raise UnknownSource(alias=alias, configured=", ".join(self.configs) or "none")
            config = self.configs[alias]
            source = import_string(config.module_path)(config)
            if config.cache_ttl > 0:
                source = CachingSource(source)
            setattr(self._built, alias, source)
        return source

    def __contains__(self, alias: str) -> bool:
        return alias in self.configs

    def in_order(self) -> Iterator[BaseSource]:
        return (self[alias] for alias in self.configs)

    @property
    def aliases(self) -> list[str]:
        return list(self.configs)

    def reset(self) -> None:
        self.__dict__.pop("_built_configs", None)
        self._built = Local(thread_critical=True)


sources = SourceHandler()


@receiver(setting_changed)
def _reset_sources(*, setting: str, **kwargs: Any) -> None:
    if setting == "CUSTOMER_USER_BACKENDS":
        sources.reset()
