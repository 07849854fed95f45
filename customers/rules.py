"""The one home of the rules a customer (company) row and a customer user's customer ID obey.

Every path that writes customers calls these: the services (admin, API, commands), the importers and the
Znuny migration. Keys are compared by the one key rule (`core.lookups`); a key that differs from a
stored one only in case is that stored key, and is stored in the existing spelling.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from backends.values import has_control_characters
from core.lookups import fold
from core.validity import Validity
from customers.models import Customer

CUSTOMER_TEXT_FIELDS = ("customer_id", "name", "street", "zip", "city", "country", "url", "comments")


DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normal_email_domains(text: str | Iterable[str]) -> tuple[str, list[str]]:
    """E-mail domains as mail compares them — lower-case, IDNA, without a leading `@` — once each, joined by
    one space; and the problems, each naming the value that is no domain."""
    parts = text if not isinstance(text, str) else re.split(r"[\s,;]+", text)
    domains, problems = [], []
    for part in (str(p).strip().lstrip("@").rstrip(".") for p in parts):
        if not part:
            continue
        try:
            domain = unicodedata.normalize("NFKC", part).lower().encode("idna").decode("ascii")
        except UnicodeError:
            domain = ""
        labels = domain.split(".")
        if len(labels) < 2 or len(domain) > 253 or not all(DOMAIN_LABEL.match(label) for label in labels):
            problems.append(_("%(value)r is not an e-mail domain (such as example.com).") % {"value": part})
        elif domain not in domains:
            domains.append(domain)
    return " ".join(domains), problems


def customer_problems(customer: Customer) -> dict[str, list[str]]:
    """Every problem of one customer's own values, by field, without asking the database: the model's
    field rules, no control characters in the ID, no NUL anywhere, e-mail domains that are domains (made
    normal in place). Uniqueness is `stored_customer_ids`, `taken_customer_names`, `taken_email_domains`."""
    errors: dict[str, list[str]] = {}
    customer.email_domains, domain_problems = normal_email_domains(customer.email_domains or "")
    try:
        customer.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors = {name: [str(m) for m in messages] for name, messages in exc.message_dict.items()}
    if domain_problems:
        errors.setdefault("email_domains", []).extend(domain_problems)
    if has_control_characters(customer.customer_id or ""):
        errors.setdefault("customer_id", []).insert(
            0,
            _("Customer ID %(id)r must not contain control characters.") % {"id": customer.customer_id},
        )
    if "\x00" in "".join(str(getattr(customer, f) or "") for f in CUSTOMER_TEXT_FIELDS):
        errors.setdefault("name", []).append(_("Values must not contain NUL characters."))
    return errors


def stored_customer_ids(customer_ids: Iterable[str], *, exclude_pk: int | None = None) -> dict[str, str]:
    """The stored spelling of each of these customer IDs that names a customer (other than the row
    `exclude_pk`), keyed by its folded form."""
    ids = list({fold(c): c for c in customer_ids if c}.values())
    if not ids:
        return {}
    found: dict[str, str] = {}
    for start in range(0, len(ids), 1000):  # SQLite's limit of variables per statement
        rows = Customer.objects.filter(customer_id__ci_in=ids[start : start + 1000]).exclude(pk=exclude_pk)
        found.update({fold(c): c for c in rows.values_list("customer_id", flat=True)})
    return found


def taken_customer_names(names: Iterable[str], *, exclude_pk: int | None = None) -> set[str]:
    """Which of these names a customer holds already (names are unique as written, R154)."""
    names = list(dict.fromkeys(n for n in names if n))
    taken: set[str] = set()
    for start in range(0, len(names), 1000):
        rows = Customer.objects.filter(name__in=names[start : start + 1000]).exclude(pk=exclude_pk)
        taken.update(rows.values_list("name", flat=True))
    return taken


def taken_email_domains(domains: Iterable[str], *, exclude_pk: int | None = None) -> dict[str, str]:
    """Which of these (normal) e-mail domains another customer holds: `{domain: its customer ID}`."""
    wanted = set(domains)
    if not wanted:
        return {}
    query = Q()
    for domain in wanted:
        query |= Q(email_domains__contains=domain)
    taken: dict[str, str] = {}
    for customer_id, held in (
        Customer.objects.filter(query).exclude(pk=exclude_pk).values_list("customer_id", "email_domains")
    ):
        taken.update({domain: customer_id for domain in held.split() if domain in wanted})
    return taken


def customer_for_email_domain(domain: str) -> Customer | None:
    """The valid customer whose e-mail domains hold `domain` (normal form), if any."""
    found = taken_email_domains([domain])
    if domain not in found:
        return None
    return Customer.objects.filter(customer_id=found[domain], validity=Validity.VALID).first()


def email_domain_taken_problem(domain: str, customer_id: str) -> str:
    return _("E-mail domain %(domain)r belongs to customer %(id)r already.") % {
        "domain": domain,
        "id": customer_id,
    }


def customer_id_taken_problem(customer_id: str, taken: str) -> str:
    return _("Customer ID %(id)r is taken by customer %(taken)r; IDs are compared case-blind.") % {
        "id": customer_id,
        "taken": taken,
    }


def customer_name_taken_problem() -> str:
    return _("A customer with this name already exists.")


def no_customer_problem(customer_id: str) -> str:
    shown = customer_id if len(customer_id) <= 60 else f"{customer_id[:60]}…"
    return _("There is no customer %(id)r.") % {"id": shown}
