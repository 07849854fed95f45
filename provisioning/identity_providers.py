"""Customer single sign-on's identity providers: `[[IdentityProvider]]` in the configuration (settings
IDENTITY_PROVIDERS), parsed and checked here (provisioning.E002 names every wrong key), routed by e-mail
domain. The protocols themselves are spoken at the surface (helpdesk.sso), by Authlib and pysaml2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

from backends.config import ConfigProblem
from backends.ldap.rules import CLAIM_FROM, DirectoryRule, parse_rules

PROTOCOLS = ("oidc", "saml")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # a path segment: /sso/<Name>/start/
COMMON = {"Name": str, "Protocol": str, "Domains": list, "Source": str, "Company": str, "Required": bool,
          "LoginClaim": str, "CompanyRules": list, "GroupRules": list, "TrustEmail": bool}  # fmt: skip
BY_PROTOCOL = {
    "oidc": {"Issuer": str, "ClientID": str, "ClientSecret": str, "Scopes": list},
    "saml": {
        "MetadataURL": str,
        "MetadataFile": str,
        "EntityID": str,
        "SignRequests": bool,
        "KeyFile": str,
        "CertFile": str,
    },
}
REQUIRED = {"oidc": ("Issuer", "ClientID", "ClientSecret"), "saml": ()}
CHECK_ID = "provisioning.E002"


@dataclass(frozen=True)
class IdentityProvider:
    """One `[[IdentityProvider]]` table, as it takes effect."""

    name: str
    protocol: str  # oidc | saml
    domains: tuple[str, ...]  # lower-case e-mail domains routed to it
    source: str  # the writable source its customer users live in
    company: str  # the default customer ID of the people it creates
    required: bool = False  # no password login for its domains
    login_claim: str = "sub"  # the claim a new customer user's login is taken from
    trust_email: bool = False  # SAML: its e-mail addresses count as verified (for linking)
    company_rules: tuple[DirectoryRule, ...] = ()
    group_rules: tuple[DirectoryRule, ...] = ()
    issuer: str = ""
    client_id: str = ""
    client_secret: str = ""
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    metadata_url: str = ""
    metadata_file: str = ""
    entity_id: str = ""  # ours at this provider; default <base>/sso/<Name>/metadata/
    sign_requests: bool = False
    key_file: str = ""  # our signing key and certificate (SAML)
    cert_file: str = ""

    @property
    def actor(self) -> str:
        """The name history records for what this provider's logins write."""
        return f"sso:{self.name}"

    @property
    def metadata(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def parse_providers(raw: Any) -> tuple[list[IdentityProvider], list[ConfigProblem]]:
    """The providers as written (a list of tables), and every problem, each named by its key."""
    problems: list[ConfigProblem] = []
    found: list[IdentityProvider] = []
    tables = raw if isinstance(raw, list) else [raw]
    names: set[str] = set()
    for index, table in enumerate(tables):
        where = f"IdentityProvider[{index}]"
        if not isinstance(table, Mapping):
            problems.append(ConfigProblem(where, "must be a table ([[IdentityProvider]])", check_id=CHECK_ID))
            continue
        provider, wrong = _provider(where, table)
        if provider is not None and provider.name.casefold() in names:
            wrong.append(
                ConfigProblem(f"{where}['Name']", f"{provider.name!r} is named twice", check_id=CHECK_ID)
            )
        if wrong:
            problems += wrong
            continue
        names.add(provider.name.casefold())
        found.append(provider)
    taken: dict[str, str] = {}
    for provider in found:
        for domain in provider.domains:
            if domain in taken:
                problems.append(ConfigProblem(
                    f"IdentityProvider {provider.name!r}['Domains']",
                    f"{domain!r} is routed to {taken[domain]!r} already", check_id=CHECK_ID,
                ))  # fmt: skip
            taken.setdefault(domain, provider.name)
    return found, problems


def _provider(where: str, table: Mapping[str, Any]) -> tuple[IdentityProvider | None, list[ConfigProblem]]:
    def problem(key: str, message: str, hint: str = "") -> ConfigProblem:
        return ConfigProblem(f"{where}[{key!r}]", message, hint=hint, check_id=CHECK_ID)

    protocol = table.get("Protocol")
    known = {**COMMON, **BY_PROTOCOL.get(str(protocol), {})}
    problems = [
        problem(key, "unknown key", f"Use {', '.join(sorted(known))}.") for key in table if key not in known
    ]
    problems += [
        problem(key, f"must be {kind.__name__}, not {table[key]!r}")
        for key, kind in known.items()
        if key in table and not isinstance(table[key], kind)
    ]
    if protocol not in PROTOCOLS:
        problems.append(problem("Protocol", f"{protocol!r} is not one of {', '.join(PROTOCOLS)}"))
    if not NAME.match(str(table.get("Name") or "")):
        problems.append(problem("Name", f"{table.get('Name')!r} is not a name of letters, digits, - and _"))
    for key in ("Source", "Company", *REQUIRED.get(str(protocol), ())):
        if not str(table.get(key) or "").strip():
            problems.append(problem(key, "is required"))
    domains = table.get("Domains") or []
    if isinstance(domains, list) and any(not isinstance(d, str) or "." not in d for d in domains):
        problems.append(problem("Domains", f"must be e-mail domains such as 'acme.example', not {domains!r}"))
    if protocol == "saml" and bool(table.get("MetadataURL")) == bool(table.get("MetadataFile")):
        problems.append(problem("MetadataURL", "give MetadataURL or MetadataFile (one of them)"))
    for key in ("MetadataFile", "KeyFile", "CertFile"):
        if isinstance(table.get(key), str) and table[key] and not Path(table[key]).is_file():
            problems.append(problem(key, f"{table[key]!r} is not a readable file"))
    if protocol == "saml" and (table.get("SignRequests") or table.get("KeyFile") or table.get("CertFile")):
        problems += [problem(key, "is required to sign requests (with the other of KeyFile and CertFile)")
                     for key in ("KeyFile", "CertFile") if not table.get(key)]  # fmt: skip
    source = str(table.get("Source") or "")
    if source and source not in settings.CUSTOMER_USER_BACKENDS:
        problems.append(problem("Source", f"{source!r} is not a configured source"))
    elif source and _read_only(source):
        problems.append(
            problem("Source", f"{source!r} is read-only: single sign-on creates customer users there")
        )
    company_rules, group_rules, rule_problems = parse_rules(table, kinds=CLAIM_FROM, check_id=CHECK_ID)
    problems += [ConfigProblem(f"{where}{p.path}", p.message, hint=p.hint, check_id=CHECK_ID)
                 for p in rule_problems]  # fmt: skip
    if problems:
        return None, problems
    return IdentityProvider(
        name=table["Name"], protocol=protocol, domains=tuple(d.strip().lstrip("@").lower() for d in domains),
        source=source, company=table["Company"], required=bool(table.get("Required")),
        login_claim=table.get("LoginClaim") or "sub", trust_email=bool(table.get("TrustEmail")),
        company_rules=company_rules, group_rules=group_rules, issuer=table.get("Issuer", ""),
        client_id=table.get("ClientID", ""), client_secret=table.get("ClientSecret", ""),
        scopes=tuple(table.get("Scopes") or ("openid", "email", "profile")),
        metadata_url=table.get("MetadataURL", ""), metadata_file=table.get("MetadataFile", ""),
        entity_id=table.get("EntityID", ""), sign_requests=bool(table.get("SignRequests")),
        key_file=table.get("KeyFile", ""), cert_file=table.get("CertFile", ""),
    ), []  # fmt: skip


def _read_only(alias: str) -> bool:
    from backends.registry import sources

    try:
        return sources[alias].read_only
    except Exception:  # a source whose own configuration is wrong: backends' checks name it
        return False


@lru_cache(maxsize=8)
def _parsed(key: str) -> tuple[IdentityProvider, ...]:
    return tuple(parse_providers(_raw())[0])


def _raw() -> list[Any]:
    return list(getattr(settings, "IDENTITY_PROVIDERS", None) or [])


def identity_providers() -> tuple[IdentityProvider, ...]:
    """The providers that take effect (a wrong one is left out; `manage.py check` names it)."""
    return _parsed(repr(_raw()))


def provider_named(name: str) -> IdentityProvider | None:
    return next((p for p in identity_providers() if p.name == name), None)


def provider_for(address: str) -> IdentityProvider | None:
    """The provider an e-mail address (or a login that is one) is routed to by its domain, if any."""
    domain = address.strip().rpartition("@")[2].lower() if "@" in address else ""
    return next((p for p in identity_providers() if domain and domain in p.domains), None)
