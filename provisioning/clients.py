"""SCIM clients: made with a token shown once, found by the token's digest, counted against their rate."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backends.registry import SourceHandler, sources
from core import history
from core.errors import NotFound, ValidationFailed
from core.lookups import fold
from core.rates import Rate, hit
from customers.rules import stored_customer_ids
from provisioning.models import ScimClient

TOKEN_PREFIX = "scim_"


class TooManyScimRequests(Exception):
    def __init__(self, wait: float) -> None:
        self.wait = wait
        super().__init__(f"retry after {wait:.0f} s")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def create_scim_client(
    *,
    name: str,
    source: str,
    companies: list[str],
    rate: str = "",
    acting_user=None,
    registry: SourceHandler = sources,
) -> tuple[ScimClient, str]:
    """A client bound to `source` (a writable source of this product's own table: SCIM reads and filters
    it in the database) and to `companies` (existing customers; the first is where its users are made).
    Returns the client and its token, which is shown this once and stored only as a digest."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed.on("name", _("A SCIM client needs a name."))
    if ScimClient.objects.filter(name__iexact=name).exists():
        raise ValidationFailed.on("name", _("A SCIM client %(name)r exists already.") % {"name": name})
    if source not in registry.aliases:
        raise ValidationFailed.on("source", _("There is no source %(alias)r.") % {"alias": source})
    backend = registry[source]
    if backend.read_only or not getattr(backend, "reads_own_table", False):
        raise ValidationFailed.on(
            "source",
            _(
                "%(alias)s is not a writable source of this product's own customer-user table; SCIM clients"
                " write there (a directory is provisioned by its own tools, then synced)."
            )
            % {"alias": source},
        )
    companies = _companies(companies)
    if rate:
        _rate(rate)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = ScimClient.objects.create(
        name=name,
        source=source,
        companies=companies,
        token_digest=digest(token),
        token_hint=token[: len(TOKEN_PREFIX) + 4],
        **({"rate": rate} if rate else {}),
    )
    history.record(
        "scim_client.created",
        "scim_client",
        client.name,
        actor=acting_user,
        source=source,
        companies=client.companies,
    )
    return client, token


def _companies(given) -> list[str]:
    """The customer IDs a client is bound to, as the customers spell them; every one must name a customer
    (one query, the one key rule of customers.rules.stored_customer_ids)."""
    if not isinstance(given, list | tuple) or not all(isinstance(c, str) for c in given):
        raise ValidationFailed.on("companies", _("Must be a list of customer IDs, not %(value)r.") % {
            "value": given})  # fmt: skip
    companies = list(dict.fromkeys(c.strip() for c in given if c and c.strip()))
    if not companies:
        raise ValidationFailed.on("companies", _("A SCIM client needs at least one company (customer ID)."))
    stored = stored_customer_ids(companies)
    missing = [c for c in companies if fold(c) not in stored]
    if missing:
        raise ValidationFailed.on("companies", _("No customer has the customer ID %(ids)s.") % {
            "ids": ", ".join(repr(c) for c in missing)})  # fmt: skip
    return list(dict.fromkeys(stored[fold(c)] for c in companies))


def _rate(text: str) -> None:
    """A rate such as 1200/minute; anything else is a 400 naming it (not the configuration error it is
    in the settings)."""
    try:
        Rate.parse(text)
    except ImproperlyConfigured as exc:
        raise ValidationFailed.on("rate", str(exc)) from None


def client_of_token(token: str) -> ScimClient | None:
    if not token:
        return None
    return ScimClient.objects.filter(token_digest=digest(token), is_active=True).first()


def count_request(client: ScimClient) -> None:
    """One request of `client` against its rate (every worker counts in the database, core.rates); its
    last use is kept to the minute."""
    rate = Rate.parse(client.rate)
    if rate is not None and (wait := hit("scim", str(client.pk), rate)) is not None:
        raise TooManyScimRequests(wait)
    now = timezone.now()
    if client.last_used_at is None or (now - client.last_used_at).total_seconds() > 60:
        ScimClient.objects.filter(pk=client.pk).update(last_used_at=now)


def get_scim_client(name: str) -> ScimClient:
    client = ScimClient.objects.filter(name__iexact=name).first()
    if client is None:
        raise NotFound(detail=_("There is no SCIM client %(name)r.") % {"name": name})
    return client


@transaction.atomic
def update_scim_client(*, name: str, changes: dict, acting_user=None) -> ScimClient:
    """Change a client's companies, rate or whether it is active (its token, name and source stay: a new
    token is a new client). Deactivated, its token is refused at once."""
    client = get_scim_client(name)
    unknown = sorted(set(changes) - {"companies", "rate", "is_active"})
    if unknown:
        raise ValidationFailed.on(
            unknown[0], _("A SCIM client's %(key)s cannot be changed.") % {"key": unknown[0]}
        )
    before = {"companies": client.companies, "rate": client.rate, "is_active": client.is_active}
    if "companies" in changes:
        client.companies = _companies(changes["companies"])
    if "rate" in changes:
        if not isinstance(changes["rate"], str):
            raise ValidationFailed.on("rate", _("Must be text, not %(value)r.") % {"value": changes["rate"]})
        _rate(changes["rate"])
        client.rate = changes["rate"]
    if "is_active" in changes:
        client.is_active = bool(changes["is_active"])
    client.save()
    after = {"companies": client.companies, "rate": client.rate, "is_active": client.is_active}
    history.record("scim_client.changed", "scim_client", client.name, actor=acting_user,
                   changes={k: [before[k], after[k]] for k in after if before[k] != after[k]})  # fmt: skip
    return client


def list_scim_clients():
    return ScimClient.objects.order_by("name")
