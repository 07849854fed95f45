"""What the provisioning paths hold about a person beyond the Map — their single sign-on links and what
a SCIM client sent (external ID, further addresses, phone numbers, postal addresses, enterprise data) — for
a person's export, their anonymisation and their rename (privacy and customers call these)."""

from __future__ import annotations

from typing import Any

from provisioning.models import ScimUser, SignOnIdentity


def identities_of(login: str) -> dict[str, Any]:
    """The person's links and SCIM data, JSON-ready (a person's export, Art. 15)."""
    scim = ScimUser.objects.filter(customer_user__login__ci=login).select_related("client").first()
    return {
        "single_sign_on": [_link(link) for link in SignOnIdentity.objects.filter(login__ci=login)],
        "scim": None if scim is None else _scim(scim),
    }


def _link(link: SignOnIdentity) -> dict[str, Any]:
    last = link.last_login_at.isoformat() if link.last_login_at else None
    return {"provider": link.provider, "subject": link.subject, "granted": link.granted,
            "linked_at": link.created_at.isoformat(), "last_login_at": last}  # fmt: skip


def _scim(user: ScimUser) -> dict[str, Any]:
    kept = ("external_id", "emails", "phone_numbers", "addresses", "enterprise")
    return {"client": user.client.name, **{name: getattr(user, name) for name in kept}}


def forget_identities(login: str) -> None:
    """Erase them (anonymisation, Art. 17): the links go (a later sign-on is a new person), the SCIM data is
    emptied (the row stays, so the client still sees the person it provisioned, anonymised)."""
    SignOnIdentity.objects.filter(login__ci=login).delete()
    ScimUser.objects.filter(customer_user__login__ci=login).update(
        external_id="", emails=[], phone_numbers=[], addresses=[], enterprise={}
    )


def follow_login_rename(*, old_login: str, new_login: str, **kwargs: Any) -> None:
    """A renamed customer user keeps their single sign-on links (sent inside the rename's transaction; the
    SCIM data follows the row by its key)."""
    SignOnIdentity.objects.filter(login__ci=old_login).update(login=new_login)
