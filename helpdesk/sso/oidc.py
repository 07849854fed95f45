"""OpenID Connect, spoken by Authlib: discovery from `<Issuer>/.well-known/openid-configuration`, the
authorization code flow with PKCE (S256), `state` and `nonce` kept in the session, and the ID token's
signature, issuer, audience, expiry and nonce checked before anything is believed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import OAuth
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from joserfc.errors import JoseError
from requests import RequestException

from provisioning.identity_providers import IdentityProvider
from provisioning.single_sign_on import Person

UNREACHABLE = (RequestException, AuthlibBaseError, ValueError)  # discovery or the provider down
UNTRUSTED = (AuthlibBaseError, JoseError, RequestException, ValueError, KeyError)  # an answer refused
_clients: dict[tuple, Any] = {}  # one Authlib client per provider configuration (its metadata is cached)


def _client(provider: IdentityProvider):
    key = (provider.name, provider.issuer, provider.client_id, provider.client_secret, provider.scopes)
    if key not in _clients:
        _clients[key] = OAuth().register(  # a registry of its own: Authlib keeps a client per name
            provider.name, overwrite=True, client_id=provider.client_id, client_secret=provider.client_secret,
            server_metadata_url=provider.metadata,
            client_kwargs={"scope": " ".join(provider.scopes), "code_challenge_method": "S256"},
        )  # fmt: skip
    return _clients[key]


def begin(request: HttpRequest, provider: IdentityProvider, login_hint: str) -> HttpResponse:
    callback_uri = request.build_absolute_uri(reverse("sso:callback", args=[provider.name]))
    extra = {"login_hint": login_hint} if login_hint else {}
    return _client(provider).authorize_redirect(request, callback_uri, **extra)


def finish(request: HttpRequest, provider: IdentityProvider) -> tuple[Person, dict[str, str]]:
    """The person the provider's answer names, and what ends their session there (the ID token)."""
    token = _client(provider).authorize_access_token(request)
    claims = dict(token.get("userinfo") or {})
    return Person(subject=str(claims.get("sub") or ""), claims=claims), {
        "id_token": token.get("id_token", "")
    }


def logout_url(request: HttpRequest, provider: IdentityProvider, sign_on: dict[str, str]) -> str:
    """RP-initiated logout at the provider's `end_session_endpoint`, or "" where it has none."""
    try:
        endpoint = _client(provider).load_server_metadata().get("end_session_endpoint")
    except UNREACHABLE:
        return ""
    if not endpoint:
        return ""
    query = {"post_logout_redirect_uri": request.build_absolute_uri(reverse("portal:login")),
             "client_id": provider.client_id}  # fmt: skip
    if sign_on.get("id_token"):
        query["id_token_hint"] = sign_on["id_token"]
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"
