"""The source registry: one source per configured alias, built lazily, iterated in R10 order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import Any

from asgiref.local import Local
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from backends.base import BaseSource
from backends.cache import CachingSource
from backends.config import SourceConfig, ordered_aliases
from backends.errors import UnknownSource


class SourceHandler:
    """Build one source per configured alias, lazily, once per thread; iterate in R10 order."""

    def __init__(self, settings_dict: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._settings_dict = settings_dict
        self._built = Local(thread_critical=True)  # a directory connection is never shared between threads

    @cached_property
    def configs(self) -> dict[str, SourceConfig]:
        raw = settings.CUSTOMER_USER_BACKENDS if self._settings_dict is None else self._settings_dict
        return {alias: SourceConfig.from_settings(alias, raw[alias]) for alias in ordered_aliases(raw)}

    def __getitem__(self, alias: str) -> BaseSource:
        source = getattr(self._built, alias, None)
        if source is None:
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
        self.__dict__.pop("configs", None)
        self._built = Local(thread_critical=True)


sources = SourceHandler()


@receiver(setting_changed)
def _reset_sources(*, setting: str, **kwargs: Any) -> None:
    if setting == "CUSTOMER_USER_BACKENDS":
        sources.reset()
