"""Customer single sign-on's surface: `/sso/<Name>/start/` sends the person to their identity provider,
`/sso/<Name>/callback/` takes them back. OpenID Connect is spoken by Authlib (discovery, the authorization
code flow with PKCE, `state` and `nonce`, the ID token's signature, issuer, audience and expiry); what the
provider vouched for goes to the one write path (provisioning.single_sign_on), and the panel's session
begins as a password login's does (helpdesk.portal.views).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import OAuth
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from joserfc.errors import JoseError
from requests import RequestException

from helpdesk.access import ANYONE, opens_to
from helpdesk.sessions import await_second_factor, log_in
from provisioning.identity_providers import IdentityProvider, provider_named
from provisioning.single_sign_on import Person, SignInRefused, sign_in

log = logging.getLogger(__name__)
NEXT_KEY = "sso_next"  # where the person lands after the provider (a page of ours)
_clients: dict[tuple, Any] = {}  # one Authlib client per provider configuration (its metadata is cached)


def oidc_client(provider: IdentityProvider):
    key = (provider.name, provider.issuer, provider.client_id, provider.client_secret, provider.scopes)
    if key not in _clients:
        _clients[key] = OAuth().register(  # a registry of its own: Authlib keeps a client per name
            provider.name, overwrite=True, client_id=provider.client_id, client_secret=provider.client_secret,
            server_metadata_url=provider.metadata,
            client_kwargs={"scope": " ".join(provider.scopes), "code_challenge_method": "S256"},
        )  # fmt: skip
    return _clients[key]


def refused(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    context = {"title": _("Single sign-on failed"), "message": message}
    return render(request, "portal/sso_refused.html", context, status=status)


def _provider(name: str) -> IdentityProvider | None:
    provider = provider_named(name)
    return provider if provider is not None and provider.protocol == "oidc" else None


@opens_to(ANYONE)
def start(request: HttpRequest, name: str) -> HttpResponse:
    """On to the provider; `next` (a page of ours only) is where the person lands after."""
    provider = _provider(name)
    if provider is None:
        return refused(request, _("There is no identity provider named %(name)s.") % {"name": name}, 404)
    target = request.GET.get("next", "")
    if target and not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return refused(request, _("That address to return to is not one of this site's."))
    request.session[NEXT_KEY] = target
    extra = {"login_hint": hint} if (hint := request.GET.get("login_hint", "").strip()) else {}
    callback_uri = request.build_absolute_uri(reverse("sso:callback", args=[provider.name]))
    try:
        return oidc_client(provider).authorize_redirect(request, callback_uri, **extra)
    except (RequestException, AuthlibBaseError, ValueError) as exc:
        log.warning("sso %s: discovery failed: %s", provider.name, exc)
        return refused(request, _("%(provider)s cannot be reached now. Try again later.") % {
            "provider": provider.name}, 503)  # fmt: skip


@opens_to(ANYONE)
def callback(request: HttpRequest, name: str) -> HttpResponse:
    """The provider's answer: checked by Authlib, then the person logs in (created or linked first)."""
    provider = _provider(name)
    if provider is None:
        return refused(request, _("There is no identity provider named %(name)s.") % {"name": name}, 404)
    if error := request.GET.get("error"):
        return refused(request, _("%(provider)s did not log you in: %(error)s") % {
            "provider": provider.name, "error": request.GET.get("error_description") or error})  # fmt: skip
    try:
        token = oidc_client(provider).authorize_access_token(request)
    except (AuthlibBaseError, JoseError, RequestException, ValueError, KeyError) as exc:
        log.warning("sso %s: refused an answer: %s", provider.name, exc)
        return refused(request, _("The answer from %(provider)s could not be trusted (%(reason)s); you were "
                                  "not logged in.") % {"provider": provider.name, "reason": exc})  # fmt: skip
    claims = dict(token.get("userinfo") or {})
    person = Person(subject=str(claims.get("sub") or ""), claims=claims)
    try:
        signed_in = sign_in(provider, person)
    except SignInRefused as exc:
        return refused(request, exc.message, 403)
    target = request.session.pop(NEXT_KEY, "") or reverse("portal:tickets")
    id_token = token.get("id_token", "")
    if signed_in.second_factor:  # an existing account with a second factor: linked once the code is given
        pending = {
            "provider": provider.name,
            "subject": person.subject,
            "claims": claims,
            "id_token": id_token,
        }
        await_second_factor(request, signed_in.login, link=pending, then=target)
        return redirect("portal:login_code")
    log_in(request, signed_in.login, provider=provider.name, id_token=id_token)
    return redirect(target)


def end_session_url(request: HttpRequest, name: str, id_token: str) -> str:
    """Where the provider's own session ends (OIDC RP-initiated logout), or "" where it has no such page."""
    provider = _provider(name)
    if provider is None:
        return ""
    try:
        metadata = oidc_client(provider).load_server_metadata()
    except (RequestException, AuthlibBaseError, ValueError):
        return ""
    endpoint = metadata.get("end_session_endpoint")
    if not endpoint:
        return ""
    back = request.build_absolute_uri(reverse("portal:login"))
    query = {"post_logout_redirect_uri": back, "client_id": provider.client_id}
    if id_token:
        query["id_token_hint"] = id_token
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"
