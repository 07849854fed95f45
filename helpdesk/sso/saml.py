"""SAML 2.0 as a service provider, spoken by pysaml2 with Debian's xmlsec1: SP-initiated login by HTTP
redirect (the request signed with `KeyFile`/`CertFile` where `SignRequests` asks for it), the response
POSTed to `/sso/<Name>/acs/` and believed only when its assertion is signed by the identity provider of the
metadata, within its validity, for us, and in answer to a request of this session (each request answered
once: a replayed response is refused); our metadata at `/sso/<Name>/metadata/`; single logout by redirect.
"""

from __future__ import annotations

import shutil
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, SAMLError
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.s_utils import SamlException
from saml2.saml import NameID

from provisioning.identity_providers import IdentityProvider
from provisioning.single_sign_on import Person

OUTSTANDING_KEY = "sso_saml_outstanding"  # {request ID: provider name}: the requests this session sent
REPLAY_SECONDS = 24 * 3600  # an assertion's ID is remembered this long (in the shared cache)
UNREACHABLE = (
    SAMLError,
    SamlException,
    ValueError,
    OSError,
)  # no metadata, or no provider in it
UNTRUSTED = (SAMLError, SamlException, ValueError, KeyError, TypeError, AttributeError)  # a response refused
CLAIMS = {  # the standard claims, from the attribute names providers send (friendly or URI)
    "email": ("email", "mail", "emailAddress", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"),
    "given_name": ("givenName", "given_name", "firstName",
                   "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"),
    "family_name": ("sn", "surname", "family_name", "lastName",
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"),
    "name": ("displayName", "cn", "name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"),
    "preferred_username": ("uid", "preferred_username", "userName"),
}  # fmt: skip
_configs: dict[tuple, SPConfig] = {}  # per provider configuration and site: the metadata read once


def entity_id(request: HttpRequest, provider: IdentityProvider) -> str:
    return provider.entity_id or request.build_absolute_uri(reverse("sso:metadata", args=[provider.name]))


def _config(request: HttpRequest, provider: IdentityProvider) -> SPConfig:
    acs = request.build_absolute_uri(reverse("sso:acs", args=[provider.name]))
    sls = request.build_absolute_uri(reverse("sso:sls", args=[provider.name]))
    key = (provider, acs)
    if key not in _configs:
        metadata = ({"remote": [{"url": provider.metadata_url}]} if provider.metadata_url
                    else {"local": [provider.metadata_file]})  # fmt: skip
        config: dict[str, Any] = {
            "entityid": entity_id(request, provider),
            "xmlsec_binary": shutil.which("xmlsec1"),
            "metadata": metadata,
            "allow_unknown_attributes": True,
            "service": {"sp": {
                "endpoints": {"assertion_consumer_service": [(acs, BINDING_HTTP_POST)],
                              "single_logout_service": [(sls, BINDING_HTTP_REDIRECT)]},
                "authn_requests_signed": provider.sign_requests,
                "logout_requests_signed": provider.sign_requests,
                "want_assertions_signed": True,
                "want_response_signed": False,
                "allow_unsolicited": False,
            }},
        }  # fmt: skip
        if provider.key_file:
            config |= {"key_file": provider.key_file, "cert_file": provider.cert_file}
        _configs[key] = SPConfig().load(config)
    return _configs[key]


def _client(request: HttpRequest, provider: IdentityProvider) -> Saml2Client:
    """A client per request (it keeps who it saw in memory), over the configuration read once."""
    return Saml2Client(config=_config(request, provider))


def _idp(client: Saml2Client) -> str:
    (idp,) = client.metadata.identity_providers()  # a provider's metadata describes one identity provider
    return idp


def begin(request: HttpRequest, provider: IdentityProvider, login_hint: str) -> HttpResponse:
    client = _client(request, provider)
    request_id, info = client.prepare_for_authenticate(entityid=_idp(client), binding=BINDING_HTTP_REDIRECT)
    outstanding = request.session.get(OUTSTANDING_KEY) or {}
    request.session[OUTSTANDING_KEY] = {**outstanding, request_id: provider.name}
    return redirect(dict(info["headers"])["Location"])


def finish(request: HttpRequest, provider: IdentityProvider) -> tuple[Person, dict[str, str]]:
    """The person the provider's assertion names, and what ends their session there (NameID, index)."""
    outstanding = {
        k: v for k, v in (request.session.get(OUTSTANDING_KEY) or {}).items() if v == provider.name
    }
    answer = _client(request, provider).parse_authn_request_response(
        request.POST.get("SAMLResponse", ""), BINDING_HTTP_POST, outstanding=outstanding
    )
    if answer is None or answer.assertion is None:
        raise ValueError("no assertion")
    request.session[OUTSTANDING_KEY] = {k: v for k, v in outstanding.items() if k != answer.in_response_to}
    if not cache.add(f"sso:saml:assertion:{provider.name}:{answer.assertion.id}", 1, REPLAY_SECONDS):
        raise ValueError("this assertion was used before")  # on any app server: the cache is shared
    name_id = answer.name_id
    attributes = answer.get_identity()
    claims: dict[str, Any] = dict(attributes)
    for claim, names in CLAIMS.items():
        claims[claim] = next((attributes[n][0] for n in names if attributes.get(n)), "")
    claims["sub"] = name_id.text
    session = answer.session_info()
    sign_on = {"name_id": name_id.text, "name_id_format": name_id.format or "",
               "session_index": session.get("session_index") or ""}  # fmt: skip
    return Person(subject=name_id.text, claims=claims), sign_on


def logout_url(request: HttpRequest, provider: IdentityProvider, sign_on: dict[str, str]) -> str:
    """Single logout at the identity provider (a LogoutRequest by redirect), or "" where it has none."""
    client = _client(request, provider)
    try:
        destinations = client.metadata.single_logout_service(_idp(client), BINDING_HTTP_REDIRECT, "idpsso")
    except UNTRUSTED:
        return ""
    if not destinations or not sign_on.get("name_id"):
        return ""
    destination = destinations[0]["location"]
    name_id = NameID(text=sign_on["name_id"], format=sign_on.get("name_id_format") or None)
    index = [sign_on["session_index"]] if sign_on.get("session_index") else None
    _request_id, message = client.create_logout_request(
        destination, _idp(client), name_id=name_id, session_indexes=index, sign=False
    )
    info = client.apply_binding(BINDING_HTTP_REDIRECT, str(message), destination, sign=provider.sign_requests)
    return dict(info["headers"])["Location"]


def metadata(request: HttpRequest, provider: IdentityProvider) -> HttpResponse:
    xml = create_metadata_string(None, config=_config(request, provider), valid=24 * 7)
    return HttpResponse(xml, content_type="application/samlmetadata+xml")
