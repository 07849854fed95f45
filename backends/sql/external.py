"""External tables of the DB source (R11): a DSN or a database alias, the table's model, its problems."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from django.apps.registry import Apps
from django.conf import settings
from django.db import models

from backends.config import LIST_KEYS, ConfigProblem, SourceConfig
from backends.connections import database_settings, source_connection


def is_external(params: Mapping[str, Any]) -> bool:
    return isinstance(params, Mapping) and bool(params.get("DSN") or params.get("Database"))


def external_config_problems(raw: Mapping[str, Any]) -> list[ConfigProblem]:

    params = raw.get("Params") or {}
    problems = []
    if params.get("DSN") and params.get("Database"):
        problems.append(
            ConfigProblem("['Params']", "give DSN or Database, not both", check_id="backends.E032")
        )
    if params.get("Database") and params["Database"] not in settings.DATABASES:
        problems.append(
            ConfigProblem(
                "['Params']['Database']",
                f"{params['Database']!r} is not a DATABASES alias",
                hint=f"Use one of: {', '.join(settings.DATABASES)}, or give a DSN.",
                check_id="backends.E032",
            )
        )
    if params.get("DSN"):
        try:
            database_settings(str(params["DSN"]))
        except (ValueError, KeyError) as exc:
            problems.append(
                ConfigProblem(
                    "['Params']['DSN']",
                    f"{params['DSN']!r} is not a database URL or DBI DSN: {exc}",
                    hint="For example postgres://user:password@host:5432/name, "
                    "DBI:Pg:dbname=name;host=host;port=5432 or DBI:mysql:database=name;host=host.",
                    check_id="backends.E032",
                )
            )
    table = params.get("Table")
    if not isinstance(table, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", table or ""):
        problems.append(
            ConfigProblem("['Params']['Table']", f"{table!r} is not a table name", check_id="backends.E032")
        )
    for key in LIST_KEYS:  # columns of the table, in the Map or not; their existence is checked on connect
        for name in raw.get(key) or ():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                problems.append(
                    ConfigProblem(f"[{key!r}]", f"{name!r} is not a column name", check_id="backends.E032")
                )
    for index, row in enumerate(raw.get("Map") or ()):
        if len(row) > 5 and row[5] == "dynamic_field":
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(row[2])):
            problems.append(
                ConfigProblem(
                    f"['Map'][{index}][2]", f"{row[2]!r} is not a column name", check_id="backends.E032"
                )
            )
    return problems


def external_database_alias(config: SourceConfig) -> str:
    params = config.params
    if params.get("Database"):
        return str(params["Database"])
    settings_dict = database_settings(str(params["DSN"]))
    if params.get("User"):
        settings_dict["USER"] = str(params["User"])
    if params.get("Password"):
        settings_dict["PASSWORD"] = str(params["Password"])
    settings_dict.setdefault("OPTIONS", {})
    if settings_dict["ENGINE"].endswith("postgresql"):
        timeout = max(1, int(config.timeout))
        settings_dict["OPTIONS"].setdefault("connect_timeout", timeout)
    settings_dict["CONN_HEALTH_CHECKS"] = True
    return source_connection(f"source:{config.alias}:{config.fingerprint}", settings_dict)


@cache
def _external_model(alias: str, table: str, key: str, columns: tuple[tuple[str, bool], ...]) -> type:
    attrs: dict[str, Any] = {
        "__module__": __name__,
        "Meta": type(
            "Meta", (), {"db_table": table, "managed": False, "apps": Apps(), "app_label": "backends"}
        ),
    }
    for column, is_int in columns:
        name = "c_" + column.lower()
        if is_int:
            attrs[name] = models.IntegerField(db_column=column, null=column != key, primary_key=column == key)
        else:
            attrs[name] = models.CharField(
                db_column=column, max_length=1000, null=True, primary_key=column == key
            )
    return type(f"External{alias}", (models.Model,), attrs)


def external_model(config: SourceConfig) -> type[models.Model]:
    """An unmanaged model of the external table: one field per Map column, the login column as key."""
    columns: dict[str, bool] = {}
    for row in config.map_rows:
        if not row.is_dynamic_field:
            columns.setdefault(row.storage, row.storage_type == "int")
    for column in (config.customer_key, config.customer_id, config.customer_valid, *config.unmapped_fields):
        if column:
            columns.setdefault(column, False)
    return _external_model(
        config.alias, str(config.params["Table"]), config.customer_key, tuple(columns.items())
    )
