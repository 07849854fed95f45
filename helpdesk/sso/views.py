"""Customer single sign-on's surface: `/sso/<Name>/start/` sends the person to their identity provider;
its answer comes back to `/sso/<Name>/callback/` (OpenID Connect) or `/sso/<Name>/acs/` (SAML); a SAML
provider reads our metadata at `/sso/<Name>/metadata/`. The protocols are spoken by libraries
(helpdesk.sso.oidc: Authlib; helpdesk.sso.saml: pysaml2 and xmlsec1); what the provider vouched for goes to
the one write path (provisioning.single_sign_on), and the panel's session begins as a password login's does.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from helpdesk.access import ANYONE, opens_to
from helpdesk.sessions import await_second_factor, log_in
from helpdesk.sso import oidc, saml
from provisioning.identity_providers import IdentityProvider, provider_named
from provisioning.single_sign_on import SignInRefused, sign_in

log = logging.getLogger(__name__)
NEXT_KEY = "sso_next"  # where the person lands after the provider (a page of ours)
PROTOCOLS = {"oidc": oidc, "saml": saml}


def refused(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    context = {"title": _("Single sign-on failed"), "message": message}
    return render(request, "portal/sso_refused.html", context, status=status)


def _no_such(request: HttpRequest, name: str) -> HttpResponse:
    return refused(request, _("There is no identity provider named %(name)s.") % {"name": name}, 404)


def _provider(name: str, protocol: str = "") -> IdentityProvider | None:
    provider = provider_named(name)
    return provider if provider is not None and protocol in ("", provider.protocol) else None


@opens_to(ANYONE)
def start(request: HttpRequest, name: str) -> HttpResponse:
    """On to the provider; `next` (a page of ours only) is where the person lands after."""
    provider = _provider(name)
    if provider is None:
        return _no_such(request, name)
    target = request.GET.get("next", "")
    if target and not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return refused(request, _("That address to return to is not one of this site's."))
    request.session[NEXT_KEY] = target
    protocol = PROTOCOLS[provider.protocol]
    try:
        return protocol.begin(request, provider, request.GET.get("login_hint", "").strip())
    except protocol.UNREACHABLE as exc:
        log.warning("sso %s: cannot begin: %s", provider.name, exc)
        return refused(request, _("%(provider)s cannot be reached now. Try again later.") % {
            "provider": provider.name}, 503)  # fmt: skip


@opens_to(ANYONE)
def callback(request: HttpRequest, name: str) -> HttpResponse:
    """An OpenID provider's answer."""
    provider = _provider(name, "oidc")
    if provider is None:
        return _no_such(request, name)
    if error := request.GET.get("error"):
        return refused(request, _("%(provider)s did not log you in: %(error)s") % {
            "provider": provider.name, "error": request.GET.get("error_description") or error})  # fmt: skip
    return _finish(request, provider)


@csrf_exempt  # the identity provider's page posts it; the response's signature and request ID protect it
@opens_to(ANYONE)
def acs(request: HttpRequest, name: str) -> HttpResponse:
    """A SAML identity provider's answer (the assertion consumer service, HTTP-POST)."""
    provider = _provider(name, "saml")
    if provider is None:
        return _no_such(request, name)
    if request.method != "POST":
        return refused(request, _("The identity provider's answer is posted to this address."), 405)
    return _finish(request, provider)


@opens_to(ANYONE)
def metadata(request: HttpRequest, name: str) -> HttpResponse:
    """Our SAML service provider's metadata, for the identity provider's administrator."""
    provider = _provider(name, "saml")
    return saml.metadata(request, provider) if provider is not None else _no_such(request, name)


@opens_to(ANYONE)
def sls(request: HttpRequest, name: str) -> HttpResponse:
    """Back from the SAML identity provider's single logout: the panel's session ended already."""
    request.session.flush()
    return redirect("portal:login")


def _finish(request: HttpRequest, provider: IdentityProvider) -> HttpResponse:
    """The provider's answer checked by its protocol, then the person logs in (created or linked first)."""
    protocol = PROTOCOLS[provider.protocol]
    try:
        person, sign_on = protocol.finish(request, provider)
    except protocol.UNTRUSTED as exc:
        log.warning("sso %s: refused an answer: %s", provider.name, exc)
        return refused(request, _("The answer from %(provider)s could not be trusted (%(reason)s); you were "
                                  "not logged in.") % {"provider": provider.name, "reason": exc})  # fmt: skip
    try:
        signed_in = sign_in(provider, person)
    except SignInRefused as exc:
        return refused(request, exc.message, 403)
    target = request.session.pop(NEXT_KEY, "") or reverse("portal:tickets")
    if signed_in.second_factor:  # an existing account with a second factor: linked once the code is given
        pending = {"provider": provider.name, "subject": person.subject, "claims": dict(person.claims),
                   "sign_on": sign_on}  # fmt: skip
        await_second_factor(request, signed_in.login, link=pending, then=target)
        return redirect("portal:login_code")
    log_in(request, signed_in.login, provider=provider.name, sign_on=sign_on)
    return redirect(target)


def end_session_url(request: HttpRequest, name: str, sign_on: dict[str, str]) -> str:
    """Where the provider's own session ends, or "" where it has no such page."""
    provider = _provider(name)
    return PROTOCOLS[provider.protocol].logout_url(request, provider, sign_on) if provider else ""
