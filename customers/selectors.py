"""Reads of customer users across all sources (R20–R24, R29). Selectors never write.

Every result says which source it came from, which sources stopped at their limit and which could not be
reached: nothing is cut or dropped silently (W6).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, QuerySet

from backends.base import (
    BaseSource,
    CustomerUserRecord,
    SearchQuery,
    SourceStatus,
    login_order,
    split_customer_ids,
)
from backends.dispatch import ask_sources
from backends.errors import SourceUnavailable, connection_hint
from backends.registry import SourceHandler, sources
from core.lookups import fold
from customers.models import (
    COMPANY_ATTRIBUTES,
    Customer,
    CustomerUserCustomer,
    CustomerUserPreference,
    CustomerUserService,
    DefaultService,
    Group,
    Service,
    Validity,
)
from customers.rules import stored_customer_ids

SESSION_VERSION = "UserSessionVersion"  # a preference, renewed whenever the password is set; never shown


@dataclass(frozen=True)
class SourceWarning:
    alias: str
    message: str


@dataclass(frozen=True)
class SearchPage:
    rows: list[CustomerUserRecord]
    truncated_sources: tuple[str, ...] = ()  # stopped at their limit: more exist there
    source_totals: tuple[tuple[str, int], ...] = ()  # matches per source, where the source could count them
    warnings: tuple[SourceWarning, ...] = ()  # could not be reached: shown, never an empty result
    limit: int = 0

    @property
    def unavailable_sources(self) -> tuple[str, ...]:
        return tuple(w.alias for w in self.warnings)


@dataclass(frozen=True)
class LoginConflict:
    """A login that more than one source knows; the first source (R10 order) wins (R20, R21)."""

    login: str
    sources: tuple[str, ...]

    @property
    def winner(self) -> str:
        return self.sources[0]


@dataclass(frozen=True)
class SourcesStatus:
    sources: tuple[SourceStatus, ...]
    conflicts: tuple[LoginConflict, ...]
    unlisted_sources: tuple[str, ...] = ()  # could not be listed: conflicts with them are not known


@dataclass(frozen=True)
class SourceInfo:
    alias: str
    name: str
    kind: str
    read_only: bool


def search_customers(term: str = "", *, valid_only: bool = False) -> QuerySet[Customer]:
    """Customers whose ID or name contains `term` (case-blind), by customer ID."""
    found = Customer.objects.order_by("customer_id")
    if valid_only:
        found = found.filter(validity=Validity.VALID)
    term = term.strip()
    return found.filter(Q(customer_id__icontains=term) | Q(name__icontains=term)) if term else found


def search_customer_users(
    *,
    term: str | None = None,
    postmaster: str | None = None,
    login: str | None = None,
    customer_id: str | None = None,
    customer_id_raw: str | None = None,
    folded: str | None = None,
    valid_only: bool = True,
    limit: int | None = None,
    source: str | None = None,
    registry: SourceHandler = sources,
) -> SearchPage:
    """Search every source in order (or one), merge by login with the first source winning (R20)."""
    query = SearchQuery(term, postmaster, login, customer_id, customer_id_raw, valid_only, limit, folded)
    query.selector  # noqa: B018  (raises for a search without a selector, R40)
    selected = [registry[source].alias] if source else registry.aliases
    merged: dict[str, CustomerUserRecord] = {}
    truncated: list[str] = []
    warnings: list[SourceWarning] = []
    totals: list[tuple[str, int]] = []
    for answer in ask_sources(registry, selected, "search", lambda backend: backend.search(query)):
        if answer.error is not None:
            warnings.append(SourceWarning(answer.alias, answer.error.message))
            continue
        if answer.value.has_more:
            truncated.append(answer.alias)
        if answer.value.total is not None:
            totals.append((answer.alias, answer.value.total))
        for record in answer.value.records:
            merged.setdefault(record.login.casefold(), record)  # the earliest source wins (R20)
    rows = sorted(merged.values(), key=login_order)
    if limit is None:  # R20, R42: each source applies its own limit; the page holds up to their sum
        return SearchPage(
            rows, tuple(truncated), tuple(totals), tuple(warnings), _sum_of_limits(selected, registry)
        )
    if len(rows) > limit:  # a page size the caller asked for
        rows = rows[:limit]
        truncated.append("merged")
    return SearchPage(rows, tuple(truncated), tuple(totals), tuple(warnings), limit)


def _sum_of_limits(aliases: Iterable[str], registry: SourceHandler) -> int:
    return sum(registry.configs[alias].search_list_limit for alias in aliases) or 250


def list_customer_users(
    *,
    valid_only: bool = True,
    limit: int | None = None,
    source: str | None = None,
    registry: SourceHandler = sources,
) -> SearchPage:
    """CustomerUserList: every customer user, merged like a search; bounded, and says when it is cut."""
    return search_customer_users(
        login="*", valid_only=valid_only, limit=limit, source=source, registry=registry
    )


def get_customer_user(
    login: str, *, registry: SourceHandler = sources, enrich: bool = True, fresh: bool = False
) -> CustomerUserRecord | None:
    """R21: the first source that knows the login, with preferences and company data merged in; `fresh`:
    from the sources themselves, past CacheTTL (what a write is based on).

    If no reachable source knows the login but a source is down, the answer is "unavailable", not
    "no such user".
    """
    unavailable: SourceUnavailable | None = None

    def read(backend):
        return backend.get_uncached(login) if fresh else backend.get(login)

    for answer in ask_sources(registry, registry.aliases, "get", read):
        if answer.error is not None:
            unavailable = unavailable or answer.error
        elif answer.value is not None:
            return _enrich(answer.value, registry) if enrich else answer.value
    if unavailable is not None:
        raise unavailable
    return None


def _enrich(record: CustomerUserRecord, registry: SourceHandler) -> CustomerUserRecord:
    config = registry.configs[record.source]
    attributes = dict(record.attributes)
    attributes["Source"] = record.source
    attributes["UserFullname"] = record.full_name  # R30
    attributes["UserMailString"] = record.display
    if config.company_support and record.customer_id:
        company = Customer.objects.filter(customer_id__ci=record.customer_id).first()
        if company is not None:
            company_fields = {
                name: getattr(company, field)
                for name, field in COMPANY_ATTRIBUTES.items()
                if name != "CustomerID"
            }
            company_fields["CustomerCompanyValidID"] = company.validity
            attributes = {**company_fields, **attributes}  # user keys win on collision (R21)
    preferences = CustomerUserPreference.objects.filter(login=record.login).exclude(key=SESSION_VERSION)
    for key, value in preferences.values_list("key", "value"):
        attributes[key] = value  # R137: preferences are merged after the record (reserved keys never stored)
    return CustomerUserRecord(record.source, record.login, attributes, record.shown, record.rule_facts)


def person_names(logins: Iterable[str], *, registry: SourceHandler = sources) -> dict[str, str]:
    """{casefolded login: the person's full name} for the logins a source knows (the panel shows people by
    name); a login no source could name is left out, and shown as it is."""
    logins = [login for login in logins if login]
    try:
        records, _unavailable = get_customer_users(logins, registry=registry)
    except SourceUnavailable:
        return {}
    return {key: record.full_name for key, record in records.items() if record.full_name}


def get_customer_users(
    logins: Iterable[str], *, registry: SourceHandler = sources
) -> tuple[dict[str, CustomerUserRecord], tuple[str, ...]]:
    """R21 for many logins at once: {casefolded login: record of the first source that knows it}, and
    the aliases of the sources that could not be asked.
    """
    logins = list(dict.fromkeys(logins))
    found: dict[str, CustomerUserRecord] = {}
    unavailable: list[str] = []
    for answer in ask_sources(registry, registry.aliases, "get", lambda backend: backend.get_many(logins)):
        if answer.error is not None:
            unavailable.append(answer.alias)
            continue
        for key, record in answer.value.items():
            found.setdefault(key, record)  # the earliest source wins (R21)
    return found, tuple(unavailable)


def get_customer_name(login: str, *, registry: SourceHandler = sources) -> str:
    """R22/R64: the name of the first source that knows the login; '' for an unknown login."""
    for answer in ask_sources(registry, registry.aliases, "get", lambda backend: backend.get(login)):
        if answer.value is not None and answer.value.full_name:
            return answer.value.full_name
    return ""


def list_customer_ids(login: str, *, registry: SourceHandler = sources) -> list[str]:
    """R23: the customer IDs of the first source that knows the login, then the additional customers."""
    record = get_customer_user(login, registry=registry, enrich=False)
    return customer_ids_of(record, registry=registry) if record is not None else []


def customer_ids_of(
    record: CustomerUserRecord,
    *,
    registry: SourceHandler = sources,
    additional: Iterable[str] | None = None,
    derived: Iterable[str] | None = None,
    spelled: Mapping[str, str] | None = None,
) -> list[str]:
    """R23/R61 for a record already found: its source's list, the companies its directory's CompanyRules
    give, then additional customers not yet in it.

    `additional` is the user's customer_user_customer ids, `derived` the rules' companies, when the caller
    already read them.
    """
    ids = split_customer_ids(record.get("UserCustomerIDs"))
    if not registry.configs[record.source].exclude_primary_customer_id and record.customer_id:
        ids.append(record.customer_id)
    if derived is None:
        derived = [company.name for company in registry[record.source].directory_grants(record)[0]]
    if derived:  # the rules' companies (and a Primary one among `ids`) as the customers spell them
        ids = as_stored([*ids, *derived], spelled)
    if additional is None:
        additional = additional_customer_ids(record.login)
    kept: dict[str, str] = {}
    for customer_id in (*ids, *sorted(additional)):
        kept.setdefault(fold(customer_id), customer_id)  # one customer whatever its case (core.lookups)
    return list(kept.values())


def as_stored(customer_ids: Iterable[str], spelled: Mapping[str, str] | None = None) -> list[str]:
    """Customer IDs as the customers spell them (a rule may name `acme` for ACME; one key rule,
    customers.rules.stored_customer_ids); an ID no customer holds stays as given. `spelled` (folded →
    stored) when the caller read them."""
    customer_ids = list(customer_ids)
    if spelled is None:
        spelled = stored_customer_ids(customer_ids)
    return [spelled.get(fold(customer_id), customer_id) for customer_id in customer_ids]


def list_customer_id_values(
    term: str | None = None, *, valid_only: bool = True, registry: SourceHandler = sources
) -> list[str]:
    """R24: the distinct primary customer IDs of all sources, sorted case-insensitively."""
    values: set[str] = set()

    def read(backend: BaseSource) -> list[str]:
        return backend.list_customer_id_values(term, valid_only=valid_only)

    for answer in ask_sources(registry, registry.aliases, "customer_id_list", read):
        values.update(answer.value or ())
    return sorted(values, key=lambda v: (v.casefold(), v))


def list_sources(*, read_only: bool | None = None, registry: SourceHandler = sources) -> list[SourceInfo]:
    """R29: all sources, or only read-only ones, or only writable ones."""
    infos = [SourceInfo(b.alias, b.config.name, b.kind, b.read_only) for b in registry.in_order()]
    if read_only is None:
        return infos
    return [info for info in infos if info.read_only == read_only]


def list_login_conflicts(registry: SourceHandler = sources) -> tuple[list[LoginConflict], tuple[str, ...]]:
    """Every login known to more than one source, and the sources that could not be listed.

    Sources are listed login by login, except the project's own table, which is asked only about the
    logins the others hold: it is usually the big one.
    """
    probed = [alias for alias in registry.aliases if registry[alias].runs_inline]
    listed = [alias for alias in registry.aliases if alias not in probed]
    owners: dict[str, list[str]] = {}
    shown: dict[str, str] = {}
    unlisted: list[str] = []
    for answer in ask_sources(registry, listed, "list", lambda backend: list(backend.iter_logins())):
        if answer.error is not None:
            unlisted.append(answer.alias)
            continue
        for login in answer.value:
            key = login.casefold()
            shown.setdefault(key, login)
            if answer.alias not in owners.setdefault(key, []):
                owners[key].append(answer.alias)
    for alias in probed:
        try:
            found = registry[alias].get_many(list(shown.values()))
        except SourceUnavailable:
            unlisted.append(alias)
            continue
        for key in found:
            owners[key].append(alias)
    order = {alias: n for n, alias in enumerate(registry.aliases)}
    conflicts = [
        LoginConflict(shown[key], tuple(sorted(aliases, key=order.__getitem__)))
        for key, aliases in owners.items()
        if len(aliases) > 1
    ]
    return sorted(conflicts, key=lambda c: (c.login.casefold(), c.login)), tuple(unlisted)


@dataclass(frozen=True)
class ConnectionTest:
    """One source asked now, past the breaker (the Sources page's "Test connection")."""

    alias: str
    ok: bool
    ms: float
    detail: str = ""
    hint: str = ""  # what usually causes `detail` (backends.errors.connection_hint)


def probe_source(alias: str, *, registry: SourceHandler = sources) -> ConnectionTest:
    started = time.perf_counter()
    try:
        status = registry[alias].status()
        ok, detail = status.reachable, status.detail or ""
    except SourceUnavailable as exc:
        ok, detail = False, exc.message
    ms = round((time.perf_counter() - started) * 1000, 1)
    return ConnectionTest(alias, ok, ms, detail, "" if ok else connection_hint(detail))


def get_sources_status(registry: SourceHandler = sources) -> SourcesStatus:
    """Each source's reachability, probe time and size, and the logins more than one source knows."""
    statuses = []
    for answer in ask_sources(registry, registry.aliases, "status", lambda backend: backend.status()):
        if answer.error is not None:
            statuses.append(SourceStatus(answer.alias, False, detail=answer.error.message))
        else:
            statuses.append(answer.value)
    statuses += [SourceStatus(alias, False, detail=problem) for alias, problem in registry.broken.items()]
    statuses.sort(key=lambda status: int(status.alias.removeprefix("CustomerUser") or 0))  # R10
    conflicts, unlisted = list_login_conflicts(registry)
    return SourcesStatus(tuple(statuses), tuple(conflicts), unlisted)


def get_customer(customer_id: str) -> Customer | None:
    """The customer with this ID, compared case-blind (core.lookups), invalid ones too."""
    return Customer.objects.filter(customer_id__ci=customer_id).first()


def customer_group_permissions(customer: Customer) -> list[dict]:
    """The customer's own group permissions (R6): group name, permission type and context."""
    return list(
        customer.group_permissions.order_by("context", "group__name").values(
            "group__name", "permission", "context"
        )
    )


def services_of(logins: Iterable[str]) -> list[tuple[str, int]]:
    """The services these customer users may use, with how many of them may: (service name, users)."""
    return list(
        CustomerUserService.objects.filter(login__in=list(logins))
        .values_list("service__name")
        .annotate(users=Count("login"))
        .order_by("service__name")
    )


def session_version(login: str) -> str:
    """What a panel session of this customer user must carry to stay valid (customers.services renews it
    with every password change or reset, ending the other sessions)."""
    return (
        CustomerUserPreference.objects.filter(login=login, key=SESSION_VERSION)
        .values_list("value", flat=True)
        .first()
        or ""
    )


def get_preference(login: str, key: str) -> str | None:
    """One stored preference of a customer user (R65), or None."""
    return CustomerUserPreference.objects.filter(login=login, key=key).values_list("value", flat=True).first()


def preferred_language(login: str) -> str | None:
    """The customer user's UserLanguage preference when the product speaks it (settings.LANGUAGES), else
    None: the browser's language applies."""
    language = get_preference(login, "UserLanguage")
    return language if language in dict(settings.LANGUAGES) else None


def valid_customers(*, limit: int = 1000) -> list[Customer]:
    """Valid customers by customer ID, at most `limit` (what a choice list can show)."""
    return list(Customer.objects.filter(validity=Validity.VALID).order_by("customer_id")[:limit])


def additional_members(customer_id: str) -> list[str]:
    """The logins linked to a customer (its stored customer ID) beside their primary one (R23, seen from the
    customer), by login."""
    linked = CustomerUserCustomer.objects.filter(customer_id=customer_id).order_by("login")
    return list(linked.values_list("login", flat=True))


def additional_customer_ids(login: str) -> list[str]:
    """The customer IDs linked to a customer user beside the primary one (R23), as stored, by ID.

    A hand-written statement: every permission answer asks it, and the ORM took longer to compile its
    query than the index takes to answer."""
    quote, meta = connection.ops.quote_name, CustomerUserCustomer._meta
    customer_id, user = (quote(meta.get_field(name).column) for name in ("customer_id", "login"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {customer_id} FROM {quote(meta.db_table)} WHERE {user} = %s ORDER BY {customer_id}",
            [login],
        )
        return [customer for (customer,) in cursor.fetchall()]


def customer_user_service_names(login: str) -> list[str]:
    """The services linked to a customer user (R130), as stored, by name; default services apart."""
    return list(
        CustomerUserService.objects.filter(login=login)
        .order_by("service__name")
        .values_list("service__name", flat=True)
    )


def default_service_names() -> list[str]:
    """The default services (R131), by name."""
    return list(DefaultService.objects.order_by("service__name").values_list("service__name", flat=True))


def list_groups(*, valid_only: bool = False) -> QuerySet[Group]:
    qs = Group.objects.order_by("name")
    return qs.filter(validity=Validity.VALID) if valid_only else qs


def list_services(*, valid_only: bool = False) -> QuerySet[Service]:
    qs = Service.objects.order_by("name")
    return qs.filter(validity=Validity.VALID) if valid_only else qs


def group_names(*, valid_only: bool = False) -> list[str]:
    return list(list_groups(valid_only=valid_only).values_list("name", flat=True))


def get_group(group_id: int) -> Group | None:
    return Group.objects.filter(pk=group_id).first()


def get_group_by_name(name: str) -> Group | None:
    """The group of this name, compared case-blind (core.lookups), invalid ones too."""
    return Group.objects.filter(name__ci=name).first()


def get_service_by_name(name: str) -> Service | None:
    """The service of this name, compared case-blind (core.lookups), invalid ones too."""
    return Service.objects.filter(name__ci=name).first()


def list_preferences(login: str) -> dict[str, str]:
    """A customer user's stored preferences (R65), the panel's session marker left out."""
    rows = CustomerUserPreference.objects.filter(login=login).exclude(key=SESSION_VERSION).order_by("key")
    return dict(rows.values_list("key", "value"))
