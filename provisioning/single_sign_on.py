"""Customer single sign-on's one write path: a person an identity provider vouches for becomes, or is found
as, a customer user — created just in time in the provider's source, kept in step at every login, placed in
companies and customer groups by the provider's claims — through the same services as every other path,
each write a history entry by the provider (`sso:<Name>`).

Linking is by the provider's immutable subject (SignOnIdentity), never by e-mail. An existing customer user
is linked to a new subject only when the provider asserts the e-mail as verified (OIDC `email_verified`, or
a provider marked `TrustEmail`), the address is theirs in the provider's source and company, no staff user
holds it, and — where they log in with a second factor — after that factor, once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from backends.base import CustomerUserRecord
from backends.ldap.rules import Derived, DirectoryFacts, apply_rules, primary_company
from backends.registry import SourceHandler, sources
from core import history
from core.errors import HelpdeskError
from core.lookups import fold
from core.validity import Validity
from customers import two_factor
from customers.selectors import customer_ids_of, get_customer_user, search_customer_users
from customers.services import create_customer_user, update_customer_user
from permissions.services import (
    add_customer_users_to_customer,
    create_rule_targets,
    grant_group_permissions,
    remove_customer_users_from_customer,
    revoke_group_permissions,
)
from provisioning.identity_providers import IdentityProvider
from provisioning.models import SignOnIdentity

OWNED = ("UserFirstname", "UserLastname", "UserEmail")  # what the provider keeps in step at every login


class SignInRefused(HelpdeskError):
    """The provider vouched for someone this product will not log in (nothing was written)."""

    code = "sign_in_refused"
    status = 403

    def __init__(self, message: str, field_errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(field_errors, detail=message)


@dataclass(frozen=True)
class SignedIn:
    """Who logs in; with `second_factor`, the panel asks for it first and then calls `link` (once)."""

    login: str
    second_factor: bool = False


@dataclass(frozen=True)
class Person:
    """What a provider says about one person: its subject and claims (OIDC) or attributes (SAML)."""

    subject: str
    claims: Mapping[str, Any]

    def text(self, name: str) -> str:
        value = self.claims.get(name)
        if isinstance(value, list | tuple):
            value = value[0] if value else ""
        return str(value or "").strip()

    def values(self, name: str) -> tuple[str, ...]:
        value = self.claims.get(name)
        items = value if isinstance(value, list | tuple) else [value]
        return tuple(str(v) for v in items if v not in (None, ""))

    @property
    def email(self) -> str:
        return self.text("email")

    def email_verified(self, provider: IdentityProvider) -> bool:
        said = self.claims.get("email_verified")
        return provider.trust_email or said is True or str(said).lower() == "true"

    def attributes(self) -> dict[str, str]:
        """The Map attributes the provider owns, from the standard claims."""
        given, family = self.text("given_name"), self.text("family_name")
        if not (given and family) and (name := self.text("name")):
            first, _space, rest = name.partition(" ")
            given, family = given or first, family or rest or first
        local = self.email.partition("@")[0]
        return {"UserFirstname": given or local, "UserLastname": family or local, "UserEmail": self.email}


def derived_grants(provider: IdentityProvider, person: Person) -> tuple[list[Derived], list[Derived]]:
    """The companies and customer groups the provider's rules give this person, with their reasons."""
    names = {rule.attribute for rule in (*provider.company_rules, *provider.group_rules)}
    facts = DirectoryFacts(dn="", values={n: person.values(n) for n in names if n}, email=person.email)
    return apply_rules(provider.company_rules, facts), apply_rules(provider.group_rules, facts)


def sign_in(provider: IdentityProvider, person: Person, *, registry: SourceHandler = sources) -> SignedIn:
    """The customer user `person` logs in as: the linked one, an existing one linked now, or a new one."""
    if not person.subject:
        raise SignInRefused(_("The identity provider did not say who you are."))
    with _refusing(), transaction.atomic(), history.acting(path="sso", name=provider.actor):
        identity = SignOnIdentity.objects.filter(provider=provider.name, subject=person.subject).first()
        if identity is not None:
            record = _valid(get_customer_user(identity.login, registry=registry, fresh=True))
            _keep_in_step(provider, person, identity, record, registry)
            return SignedIn(record.login)
        existing = _holder_of(provider, person.email, registry)
        if existing is not None:
            _may_link(provider, person, existing, registry)
            if two_factor.is_enabled(existing.login):
                return SignedIn(existing.login, second_factor=True)  # linked after the code (link())
            link(provider, person, existing.login, registry=registry)
            return SignedIn(existing.login)
        record = _create(provider, person, registry)
        identity = SignOnIdentity.objects.create(
            provider=provider.name, subject=person.subject, source=provider.source, login=record.login
        )
        _keep_in_step(provider, person, identity, record, registry, created=True)
        return SignedIn(record.login)


def link(
    provider: IdentityProvider, person: Person, login: str, *, registry: SourceHandler = sources
) -> None:
    """Link `login` to the provider's subject (after its second factor, where it has one) and keep it in
    step, as every later login does."""
    with _refusing(), transaction.atomic(), history.acting(path="sso", name=provider.actor):
        record = _valid(get_customer_user(login, registry=registry, fresh=True))
        _may_link(provider, person, record, registry)
        identity, _new = SignOnIdentity.objects.get_or_create(
            provider=provider.name, subject=person.subject,
            defaults={"source": record.source, "login": record.login},
        )  # fmt: skip
        history.record("customer_user.sso_linked", "customer_user", record.login, provider=provider.name)
        _keep_in_step(provider, person, identity, record, registry)


@contextmanager
def _refusing() -> Iterator[None]:
    """A rule that refuses part of a login (a permission type, a customer ID) refuses all of it: the
    transaction takes back what was written, and the person reads why."""
    try:
        yield
    except SignInRefused:
        raise
    except HelpdeskError as exc:
        said = _("You could not be logged in: %(reason)s") % {"reason": exc.message}
        raise SignInRefused(said, exc.field_errors) from None


def _valid(record: CustomerUserRecord | None) -> CustomerUserRecord:
    if record is None or record.valid_id != Validity.VALID:
        raise SignInRefused(_("This account is not valid. Ask your administrator."))
    return record


def _holder_of(provider: IdentityProvider, email: str, registry: SourceHandler) -> CustomerUserRecord | None:
    """The customer user of the provider's source who holds `email`, if any (the postmaster search, R45)."""
    if not email:
        return None
    page = search_customer_users(
        postmaster=email, valid_only=False, source=provider.source, registry=registry
    )
    return next((r for r in page.rows if fold(str(r.attributes.get("UserEmail", ""))) == fold(email)), None)


def _may_link(
    provider: IdentityProvider, person: Person, record: CustomerUserRecord, registry: SourceHandler
) -> None:
    """Refuses a link this product does not make silently (nothing is written)."""
    if not person.email_verified(provider):
        said = _(
            "An account with the address %(email)s exists, but %(provider)s did not confirm that the address "
            "is yours, so it was not linked. Log in with your password."
        ) % {"email": person.email, "provider": provider.name}
        raise SignInRefused(said, {"UserEmail": [said]})
    _valid(record)
    if fold(str(record.attributes.get("UserEmail", ""))) != fold(person.email):
        raise SignInRefused(_("This identity belongs to another address."))
    companies = {fold(c) for c in customer_ids_of(record, registry=registry)}
    if fold(provider.company) not in companies:
        raise SignInRefused(_("The account with this address belongs to another company; it was not linked."))
    if get_user_model().objects.filter(email__iexact=person.email).exists():
        raise SignInRefused(_("This address belongs to a staff account, which single sign-on never links."))


def _create(provider: IdentityProvider, person: Person, registry: SourceHandler) -> CustomerUserRecord:
    login = person.text(provider.login_claim) or person.subject
    companies, _groups = derived_grants(provider, person)
    values = {**person.attributes(), "UserLogin": login,
              "UserCustomerID": primary_company(companies) or provider.company}  # fmt: skip
    try:
        record, _password = create_customer_user(
            attributes=values, acting_user=None, source=provider.source, registry=registry,
            generate_password=False,
        )  # fmt: skip
    except HelpdeskError as exc:
        said = _("Your account could not be created: %(reason)s") % {"reason": exc.message}
        raise SignInRefused(said, exc.field_errors) from None
    return record


def _keep_in_step(
    provider: IdentityProvider,
    person: Person,
    identity: SignOnIdentity,
    record: CustomerUserRecord,
    registry: SourceHandler,
    *,
    created: bool = False,
) -> None:
    """The attributes the provider owns, and the companies and groups its claims give now: what they no
    longer give is taken back, what is new is given, each through the services."""
    companies, groups = derived_grants(provider, person)
    if not created:
        owned = {k: v for k, v in person.attributes().items() if v and record.attributes.get(k) != v}
        primary = primary_company(companies)
        if primary and record.attributes.get("UserCustomerID") != primary:
            owned["UserCustomerID"] = primary
        if owned:
            try:
                update_customer_user(login=record.login, changes=owned, acting_user=None, registry=registry)
            except HelpdeskError as exc:
                said = _("Your account could not be updated: %(reason)s") % {"reason": exc.message}
                raise SignInRefused(said) from None
    create_rule_targets(provider.source, companies, groups, by=("sso", provider.actor))
    given: dict[str, set[str]] = {}
    for g in groups:  # two rules giving one group: the union of their types
        given.setdefault(g.name, set()).update(g.types)
    now = {
        "companies": sorted({c.name for c in companies if not c.primary} - {provider.company}, key=fold),
        "groups": {name: sorted(types) for name, types in given.items()},
    }
    before = identity.granted or {}
    login = [record.login]
    for company in before.get("companies", []):
        if fold(company) not in {fold(c) for c in now["companies"]}:
            remove_customer_users_from_customer(logins=login, customer_id=company, acting_user=None)
    for company in now["companies"]:
        if fold(company) not in {fold(c) for c in before.get("companies", [])}:
            add_customer_users_to_customer(logins=login, customer_id=company, acting_user=None)
    for group, types in before.get("groups", {}).items():
        gone = [t for t in types if t not in now["groups"].get(group, [])]
        if gone:
            revoke_group_permissions(logins=login, groups=[group], permissions=gone, acting_user=None)
    for group, types in now["groups"].items():
        new = [t for t in types if t not in before.get("groups", {}).get(group, [])]
        if new:
            grant_group_permissions(logins=login, groups=[group], permissions=new, acting_user=None)
    identity.granted = now
    identity.last_login_at = timezone.now()
    identity.save(update_fields=["granted", "last_login_at"])
