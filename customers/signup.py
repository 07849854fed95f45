"""Sign-up in the customer panel (the reference's CustomerPanelCreateAccount, off unless [Settings] turns
it on): the Map's shown fields, an address allowed by the MailRestrictions lists, a confirmation link by
e-mail that carries the signed form (nothing is stored before it is followed), then a password, and the
account is created in the first writable source. An address or login that exists gets the same answer
and a mail saying so (no account enumeration)."""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backends.base import BaseSource, CustomerUserRecord
from backends.config import MapRow
from backends.errors import CustomerUserInvalid
from backends.registry import SourceHandler, sources
from backends.values import email_problem, label_in_language, value_errors
from core.errors import HelpdeskError
from core.lookups import fold
from core.mail import send_after_answer
from core.validity import Validity
from customers.models import UsedSignupLink
from customers.rules import customer_for_email_domain, normal_email_domains, stored_customer_ids
from customers.selectors import get_customer_user, search_customer_users
from customers.services import create_customer, create_customer_user

logger = logging.getLogger(__name__)
SALT = "helpdesk.customers.signup"
NOT_ASKED = ("UserPassword", "UserCustomerID", "UserCustomerIDs", "ValidID")


def signup_enabled() -> bool:
    return bool(settings.HELPDESK_SETTINGS.get("CustomerPanelCreateAccount"))


def signup_source(registry: SourceHandler = sources) -> BaseSource | None:
    """The first writable source that keeps passwords (R10 order), where new accounts go."""
    return next((s for s in registry.in_order() if s.sets_passwords), None)


def signup_fields(source: BaseSource) -> list[MapRow]:
    """The Map's shown rows a customer fills in; UserLogin is optional (the e-mail address otherwise)."""
    return [
        row
        for row in source.config.map_rows
        if row.shown and row.attribute not in NOT_ASKED and not (row.read_only or row.is_dynamic_field)
    ]


def email_allowed(email: str) -> bool:
    """MailRestrictions: an allow-list (empty: every address) and a refuse-list, as regular expressions,
    compared as mail compares domains: against the address as `mail_address` spells it and against its
    domain in IDNA (so `ｅvil.test`, `ＥＶＩＬ.ＴＥＳＴ` and `evil.test` are one domain)."""
    options = settings.HELPDESK_SETTINGS
    allowed = options.get("CustomerPanelCreateAccountWhitelist") or []
    refused = options.get("CustomerPanelCreateAccountBlacklist") or []
    spellings = _spellings(email)
    if allowed and not any(re.search(p, s, re.IGNORECASE) for p in allowed for s in spellings):
        return False
    return not any(re.search(p, s, re.IGNORECASE) for p in refused for s in spellings)


def mail_address(email: str) -> str | None:
    """The address as mail reads it: NFKC (full-width and compatibility letters become the plain ones), the
    domain lower-cased; None when it holds characters no address may (zero-width and other format or
    control characters), which could make a refused domain look like another."""
    text = unicodedata.normalize("NFKC", email.strip())
    if any(unicodedata.category(character) in ("Cf", "Cc", "Zl", "Zp") for character in text):
        return None
    local, at, domain = text.rpartition("@")
    return f"{local}{at}{domain.lower()}" if at else text


def _spellings(email: str) -> list[str]:
    local, at, domain = email.rpartition("@")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return [email]
    return list(dict.fromkeys([email, f"{local}{at}{ascii_domain}"]))


def request_signup(
    values: dict[str, str], *, link: Callable[[str], str], registry: SourceHandler = sources
) -> dict:
    """Check the form; mail the confirmation link (or, for an address or login that exists, a mail that says
    so). Return the form's errors by field: empty when the answer is "check your mail"."""
    source = signup_source(registry)
    fields = {row.attribute: row for row in signup_fields(source)}
    values = {k: str(v).strip() for k, v in values.items() if k in fields}
    typed = values.get("UserEmail", "")
    email = mail_address(typed)
    if email is None:
        return {"UserEmail": [_("This e-mail address cannot sign up here.")]}
    values["UserEmail"] = email
    values["UserLogin"] = values.get("UserLogin") or email
    errors = value_errors(source.config, values)
    for attribute, row in fields.items():
        if row.required and attribute != "UserLogin" and not values.get(attribute):
            field = label_in_language(row.label)
            errors.setdefault(attribute, []).append(_("%(field)s is required.") % {"field": field})
    if not errors and not email_allowed(email):
        errors["UserEmail"] = [_("This e-mail address cannot sign up here.")]
    elif not errors and (problem := email_problem(email)):
        errors["UserEmail"] = [problem]
    if errors:
        return errors
    existing = get_customer_user(values["UserLogin"], registry=registry) or next(
        iter(search_customer_users(postmaster=email, valid_only=False, registry=registry).rows), None
    )
    if existing is not None:
        body = render_to_string("portal/mail/signup_exists.txt", {"login": existing.login})
        send_after_answer(_("Your helpdesk account"), body, [email])
        logger.info("sign-up for an existing account (%s): told so by mail", existing.login)
        return {}
    customer_id, _new = signup_customer(email, source)
    if customer_id is None:
        logger.error("sign-up refused: CustomerPanelCreateAccount::CustomerID names no customer")
        return {"UserEmail": [_("Sign-up is not possible at the moment; please ask the helpdesk.")]}
    problems = source.validate({**values, "ValidID": Validity.VALID, "UserCustomerID": customer_id}, None)
    problems = {k: v for k, v in problems.items() if k in fields}  # what the customer can correct
    if problems:
        return problems
    token = signing.dumps({"source": source.alias, "values": values}, salt=SALT, compress=True)
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    context = {"link": link(token), "login": values["UserLogin"], "minutes": minutes}
    body = render_to_string("portal/mail/signup_confirm.txt", context)
    send_after_answer(_("Confirm your helpdesk account"), body, [email])
    return {}


class SignupLinkUsed(HelpdeskError):
    code = "signup.link_used"
    status = 400
    template = gettext_lazy("This sign-up link has been used already.")


def pending_signup(token: str) -> dict[str, Any] | None:
    """The form a confirmation link carries, while it is valid: signed, within its time, and never used."""
    try:
        pending = signing.loads(token, salt=SALT, max_age=settings.PASSWORD_RESET_TIMEOUT)
    except signing.BadSignature:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    if UsedSignupLink.objects.filter(digest=digest).exists():
        return None
    return {**pending, "link": digest}


def complete_signup(
    pending: dict[str, Any], password: str, *, registry: SourceHandler = sources
) -> CustomerUserRecord:
    """Create the account with its password (the policy applies). The link is spent in the same transaction:
    followed twice, in parallel, or after its account was anonymised or renamed, it creates nobody."""
    email = pending["values"]["UserEmail"]
    customer_id, new = signup_customer(email, registry[pending["source"]])
    if customer_id is None:
        problem = _("Sign-up is not possible at the moment.")
        raise CustomerUserInvalid({"UserCustomerID": [problem]}, login=email, summary=problem)
    values = {**pending["values"], "UserPassword": password, "UserCustomerID": customer_id}
    with transaction.atomic():
        try:
            with transaction.atomic():
                UsedSignupLink.objects.create(digest=pending["link"])
        except IntegrityError as exc:
            raise SignupLinkUsed() from exc
        if new:  # the reference's default: the e-mail address is the customer ID; the customer comes along
            create_customer(customer_id=customer_id, name=customer_id, acting_user=None)
        record, _generated = create_customer_user(
            attributes=values, acting_user=None, source=pending["source"], registry=registry
        )
    logger.info("customer user %s signed up", record.login)
    return record


def signup_customer(email: str, source: BaseSource) -> tuple[str | None, bool]:
    """The customer a new account joins, and whether it is to be created with it: the valid customer whose
    e-mail domains hold the address's domain; else `CustomerPanelCreateAccount::CustomerID` (None when it
    names no customer: a system check says so); else, as the reference does, the e-mail address itself,
    a customer created with the account where the source keeps customers (CustomerCompanySupport)."""
    domain, _problems = normal_email_domains([email.rpartition("@")[2]])
    if domain and (customer := customer_for_email_domain(domain)) is not None:
        return customer.customer_id, False
    configured = settings.HELPDESK_SETTINGS.get("CustomerPanelCreateAccountCustomerID")
    if configured:
        stored = stored_customer_ids([configured]).get(fold(configured))
        return (stored or configured, False) if stored or not source.config.company_support else (None, False)
    stored = stored_customer_ids([email]).get(fold(email))
    return stored or email, stored is None and source.config.company_support
