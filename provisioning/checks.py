"""`ScimMap` and `ScimGroups` on a source, checked by `manage.py check` (provisioning.E001), each problem
named by its key."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, register

from backends.ldap.rules import TYPES  # the permission types a rule may give, as the directory's

PATHS_HINT = "ScimMap maps SCIM attributes (name.givenName, phoneNumbers.work, enterprise.department, …)"


@register()
def check_scim_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from backends.registry import sources
    from provisioning.scim import SCIM_PATHS

    errors: list[CheckMessage] = []

    def problem(alias: str, where: str, message: str, hint: str = "") -> None:
        errors.append(Error(f"CUSTOMER_USER_BACKENDS[{alias!r}]{where}: {message}", hint=hint or None,
                            obj="CUSTOMER_USER_BACKENDS", id="provisioning.E001"))  # fmt: skip

    for alias, config in sources.configs.items():
        scim_map, groups = config.raw.get("ScimMap"), config.raw.get("ScimGroups")
        if scim_map is not None:
            if not isinstance(scim_map, dict):
                problem(alias, "['ScimMap']", "must be a table of SCIM attribute = Map attribute")
            else:
                for path, attribute in scim_map.items():
                    if path not in SCIM_PATHS:
                        problem(alias, f"['ScimMap'][{path!r}]", "is not a SCIM attribute this server maps",
                                f"{PATHS_HINT}: {', '.join(SCIM_PATHS)}")  # fmt: skip
                    elif attribute and config.row(str(attribute)) is None:
                        problem(alias, f"['ScimMap'][{path!r}]", f"{attribute!r} is not in this source's Map")
        if groups is not None:
            if not isinstance(groups, dict):
                problem(
                    alias, "['ScimGroups']", 'must be a table: "<group>" = { Company = … } or { Group = … }'
                )
                continue
            for name, mapping in groups.items():
                where = f"['ScimGroups'][{name!r}]"
                if not isinstance(mapping, dict) or bool(mapping.get("Company")) == bool(
                    mapping.get("Group")
                ):
                    problem(alias, where, "must name either Company or Group (with Types)")
                    continue
                unknown = sorted(set(mapping) - {"Company", "Group", "Types"})
                if unknown:
                    problem(
                        alias, f"{where}[{unknown[0]!r}]", "unknown key", "Use Company, or Group and Types."
                    )
                types = mapping.get("Types", ["ro"])
                wrong = not isinstance(types, list) or not types or any(t not in TYPES for t in types)
                if mapping.get("Group") and wrong:
                    problem(alias, f"{where}['Types']", f"must be a list of permission types, not {types!r}")
    return errors


@register()
def check_identity_providers(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`[[IdentityProvider]]`: every wrong key named (provisioning.E002)."""
    from django.conf import settings

    from provisioning.identity_providers import parse_providers

    _providers, problems = parse_providers(list(getattr(settings, "IDENTITY_PROVIDERS", None) or []))
    return [
        Error(f"{p.path}: {p.message}", hint=p.hint or None, obj="IDENTITY_PROVIDERS", id=p.check_id)
        for p in problems
    ]
