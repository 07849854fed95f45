"""The customer panel: login, my and company tickets, new ticket, ticket view and reply, preferences.

Customers are not Django users: a login through the sources (customers.authentication) puts the customer
user's login in the session, whose key is rotated at login; database sessions survive a restart and
expire after SESSION_COOKIE_AGE. Every view re-reads the customer user, so an invalidated user is logged
out at their next click. Authorisation lives in the selectors and services, not in these views.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import parse_qs, urlencode, urlsplit

import segno
from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from backends.errors import CustomerUserInvalid, SourceUnavailable
from backends.registry import sources
from core import rates
from core.clients import client_address
from core.errors import NotFound, TooManyRequests, ValidationFailed
from core.validity import Validity
from customers import two_factor
from customers.authentication import authenticate_customer_user, check_current_password, locked_message
from customers.password_reset import record_for_link, request_password_reset, reset_password
from customers.selectors import (
    get_customer_user,
    get_preference,
    person_names,
    preferred_language,
    session_version,
)
from customers.services import set_customer_user_password, set_customer_user_preference
from customers.signup import (
    SignupLinkUsed,
    complete_signup,
    pending_signup,
    request_signup,
    signup_enabled,
    signup_fields,
    signup_source,
)
from helpdesk.access import ANYONE, CUSTOMER, VIEW_PANEL_AS, opens_to
from helpdesk.sessions import (
    LINK_KEY,
    NEXT_KEY,
    PENDING_KEY,
    PROVIDER_KEY,
    SESSION_KEY,
    SESSION_VERSION_KEY,
    SIGN_ON_KEY,
    VIEW_AS_KEY,
    await_second_factor,
    log_in,
)
from helpdesk.sso.views import end_session_url
from permissions.company_tickets import list_customer_user_services
from provisioning.identity_providers import identity_providers, provider_for, provider_named
from provisioning.single_sign_on import Person, SignInRefused, link
from tickets.attachments import accepted as accepted_attachments
from tickets.selectors import (
    can_reply,
    customer_attachment,
    get_customer_ticket,
    list_creatable_queues,
    list_customer_tickets,
)
from tickets.services import close_as_customer, create_customer_ticket, reply_as_customer

__all__ = ["SESSION_KEY", "SESSION_VERSION_KEY", "VIEW_AS_KEY"]  # for the admin and tests


def _viewed_as(request: HttpRequest) -> str | None:
    """The customer user a staff user (with the permission, in this session) sees the panel as, if any."""
    login = request.session.get(VIEW_AS_KEY)
    user = getattr(request, "user", None)
    return login if login and user is not None and user.is_active and user.has_perm(VIEW_PANEL_AS) else None


def customer_required(view):
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        viewed_as = None if request.session.get(SESSION_KEY) else _viewed_as(request)
        login = viewed_as or request.session.get(SESSION_KEY)
        record = None
        if login:
            try:
                record = get_customer_user(login)
            except SourceUnavailable:
                return render(request, "portal/unavailable.html", status=503)
        if viewed_as and record is not None:
            request.customer, request.viewing_as = record, True
            if request.method != "GET":  # read-only: nothing is written in the person's name
                said = {"title": _("Read-only"), "message": _(
                    "You see the panel as this customer; nothing can be changed from here.")}  # fmt: skip
                return render(request, "portal/refused.html", said, status=403)
            return view(request, *args, **kwargs)
        if (
            record is None
            or record.valid_id != Validity.VALID
            or request.session.get(SESSION_VERSION_KEY, "") != session_version(record.login)
        ):
            if login:  # a session that no longer holds: ended (a login waiting for its code goes on)
                request.session.flush()
            return redirect("portal:login")
        request.customer = record
        if language := preferred_language(record.login):  # else LocaleMiddleware's Accept-Language
            translation.activate(language)
            request.LANGUAGE_CODE = language
        if (
            not getattr(view, "before_second_factor", False)
            and two_factor.is_required(record)
            and not two_factor.is_enabled(record.login)
        ):
            return redirect("portal:two_factor")  # required of this customer: set it up first
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:  # another company's ticket is "not found", never shown
            return render(request, "portal/not_found.html", {"message": exc.message}, status=404)

    return opens_to(CUSTOMER)(wrapped)


@opens_to(ANYONE)
def login(request: HttpRequest) -> HttpResponse:
    if request.session.get(SESSION_KEY):
        return redirect("portal:tickets")
    error, username = "", ""
    discovery = bool(identity_providers())  # the e-mail (or login) first, then a provider or the password
    if request.method == "POST":
        username = request.POST.get("login", "")
        provider = provider_for(username)
        if provider is not None and (provider.required or "password" not in request.POST):
            query = urlencode({"login_hint": username.strip()})
            return redirect(f"{reverse('sso:start', args=[provider.name])}?{query}")
        if "password" not in request.POST:  # no provider for this address: the password, as today
            context = {"username": username, "signup": signup_enabled(), "password_step": True}
            return render(request, "portal/login.html", context)
        outcome = authenticate_customer_user(
            username, request.POST.get("password", ""), remote_addr=client_address(request)
        )
        if outcome.ok and two_factor.is_enabled(outcome.login):
            await_second_factor(request, outcome.login)
            return redirect("portal:login_code")  # the password was right; now the code
        if outcome.ok:
            log_in(request, outcome.login)
            return redirect("portal:tickets")
        error = outcome.message
        if outcome.reason == "throttled":
            return _too_many(request, "portal/login.html", outcome.retry_after,
                             {"error": error, "username": username, "signup": signup_enabled()})  # fmt: skip
    context = {"error": error, "username": username, "signup": signup_enabled(),
               "password_step": not discovery or bool(error)}  # fmt: skip
    return render(request, "portal/login.html", context, status=401 if error else 200)


def _too_many(request: HttpRequest, template: str, retry_after: int, context: dict) -> HttpResponse:
    """429 with the page the client asked for, its message, and Retry-After."""
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(retry_after)
    return response


@opens_to(ANYONE)
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step of a login with a second factor: `code`, from the app or a recovery code."""
    login = request.session.get(PENDING_KEY)
    if not login:
        return redirect("portal:login")
    error = ""
    if request.method == "POST":
        try:
            rates.limit("login", client_address(request))
        except TooManyRequests as exc:
            return _too_many(request, "portal/login_code.html", exc.retry_after, {"error": exc.message})
        checked = two_factor.verify(login, request.POST.get("code", ""))
        if checked == "ok":
            return _after_second_factor(request, login)
        if checked == "locked":  # too many wrong codes for this account, whichever logins sent them
            request.session.flush()
            messages.error(request, locked_message(two_factor.locked_until(login)))
            return redirect("portal:login")
        error = _("That code is not right (or was used already).")
    return render(request, "portal/login_code.html", {"error": error}, status=401 if error else 200)


def _after_second_factor(request: HttpRequest, login: str) -> HttpResponse:
    """The code was right: a single sign-on's link is made now (once), and the session begins."""
    pending = request.session.get(LINK_KEY) or {}
    target = request.session.get(NEXT_KEY) or reverse("portal:tickets")
    provider = provider_named(pending["provider"]) if pending else None
    if provider is not None:
        try:
            link(provider, Person(pending["subject"], pending["claims"]), login)
        except SignInRefused as exc:
            request.session.flush()
            said = {"title": _("Single sign-on failed"), "message": exc.message}
            return render(request, "portal/sso_refused.html", said, status=403)
    log_in(request, login, provider=provider.name if provider else "", sign_on=pending.get("sign_on"))
    return redirect(target)


def _before_second_factor(view):
    """A page a customer may open while a required second factor is not set up yet."""
    view.before_second_factor = True
    return view


@customer_required
@_before_second_factor
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Preferences → two-factor: the otpauth:// URI and its QR code, confirmed with a first `code`."""
    login = request.customer.login
    if two_factor.is_enabled(login):
        return render(request, "portal/two_factor.html", {"enabled": True})
    error, codes = "", None
    if request.method == "POST":
        codes = two_factor.confirm(login, request.POST.get("code", ""))
        if codes is not None:
            return render(request, "portal/two_factor.html", {"enabled": True, "recovery_codes": codes})
        error = _("That code is not right: type the six digits your app shows now.")
    uri = two_factor.pending_uri(login) if request.method == "POST" else two_factor.begin(login)
    qr = segno.make(uri, error="m").svg_inline(scale=4, title="QR code of the setup link")
    secret = parse_qs(urlsplit(uri).query).get("secret", [""])[0]  # for typing in, in groups of four
    context = {"uri": uri, "qr": qr, "error": error, "required": two_factor.is_required(request.customer),
               "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))}  # fmt: skip
    return render(request, "portal/two_factor.html", context, status=400 if error else 200)


@opens_to(ANYONE)
def password_reset(request: HttpRequest) -> HttpResponse:
    """Asks for the login or the e-mail address (`login`) and always answers the same way."""
    if request.method == "POST":
        try:
            rates.limit("mail", client_address(request))
        except TooManyRequests as exc:
            return _too_many(request, "portal/password_reset.html", exc.retry_after, {"error": exc.message})
        request_password_reset(
            request.POST.get("login", ""),
            link=lambda uid, token: request.build_absolute_uri(
                reverse("portal:password_reset_confirm", args=[uid, token])
            ),
        )
        return render(request, "portal/password_reset_sent.html")
    return render(request, "portal/password_reset.html")


@opens_to(ANYONE)
def password_reset_confirm(request: HttpRequest, uid: str, token: str) -> HttpResponse:
    """The mailed link: a new password twice (`new_password1`, `new_password2`), with the policy."""
    record = record_for_link(uid, token)
    if record is None:
        return render(request, "portal/password_reset_invalid.html", status=400)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        first, second = request.POST.get("new_password1", ""), request.POST.get("new_password2", "")
        if not first:
            errors["new_password1"] = [_("Enter a new password.")]
        elif first != second:
            errors["new_password2"] = [_("The two passwords differ.")]
        else:
            try:
                reset_password(record, first)
            except CustomerUserInvalid as exc:
                errors["new_password1"] = [m for ms in exc.field_errors.values() for m in ms] or [exc.message]
            else:
                messages.success(request, _("Your password was set. Log in with it."))
                return redirect("portal:login")
    return render(request, "portal/password_reset_confirm.html", {"record": record, "errors": errors},
                  status=400 if errors else 200)  # fmt: skip


@opens_to(ANYONE)
def signup(request: HttpRequest) -> HttpResponse:
    """CustomerPanelCreateAccount: the Map's shown fields; "check your mail" for every allowed address."""
    source = signup_source() if signup_enabled() else None
    if source is None:
        raise Http404("Sign-up is off.")
    fields = signup_fields(source)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            rates.limit("mail", client_address(request))
        except TooManyRequests as exc:
            rows = [(row, request.POST.get(row.attribute, ""), []) for row in fields]
            return _too_many(
                request, "portal/signup.html", exc.retry_after, {"rows": rows, "error": exc.message}
            )
        errors = request_signup(
            {row.attribute: request.POST.get(row.attribute, "") for row in fields},
            link=lambda token: request.build_absolute_uri(reverse("portal:signup_confirm", args=[token])),
        )
        if not errors:
            return render(request, "portal/signup_sent.html")
    rows = [(row, request.POST.get(row.attribute, ""), errors.get(row.attribute, [])) for row in fields]
    return render(request, "portal/signup.html", {"rows": rows}, status=400 if errors else 200)


@opens_to(ANYONE)
def signup_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The mailed link: a password twice (`new_password1`, `new_password2`), then the account exists."""
    pending = pending_signup(token) if signup_enabled() else None
    if pending is None:
        return render(request, "portal/password_reset_invalid.html", status=400)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        first, second = request.POST.get("new_password1", ""), request.POST.get("new_password2", "")
        if not first:
            errors["new_password1"] = [_("Enter a password.")]
        elif first != second:
            errors["new_password2"] = [_("The two passwords differ.")]
        else:
            try:
                complete_signup(pending, first)
            except SignupLinkUsed:
                return render(request, "portal/password_reset_invalid.html", status=400)
            except CustomerUserInvalid as exc:
                if "UserLogin" in exc.field_errors:  # followed twice: the account exists already
                    return render(request, "portal/password_reset_invalid.html", status=400)
                errors["new_password1"] = [m for ms in exc.field_errors.values() for m in ms] or [exc.message]
            else:
                messages.success(request, _("Your account is ready. Log in with your password."))
                return redirect("portal:login")
    context = {"login": pending["values"]["UserLogin"], "errors": errors}
    return render(request, "portal/signup_confirm.html", context, status=400 if errors else 200)


@opens_to(ANYONE)
@require_POST
def view_as_end(request: HttpRequest) -> HttpResponse:
    """End seeing the panel as a customer user: back to their page in the admin."""
    login = request.session.pop(VIEW_AS_KEY, None)
    if login:
        return redirect("admin:customer_user_change", login=login)
    return redirect("portal:login")


@opens_to(ANYONE)
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Ends the panel's session and, after a single sign-on, the provider's where it offers that."""
    provider, sign_on = request.session.get(PROVIDER_KEY, ""), request.session.get(SIGN_ON_KEY) or {}
    request.session.flush()
    if provider and (url := end_session_url(request, provider, sign_on)):
        return redirect(url)
    return redirect("portal:login")


@customer_required
def tickets(request: HttpRequest) -> HttpResponse:
    page = list_customer_tickets(
        request.customer.login,
        scope=request.GET.get("scope", "mine"),
        search=request.GET.get("q", ""),
        order=request.GET.get("order", "-created"),
        page=_int(request.GET.get("page"), 1),
    )
    return render(request, "portal/tickets.html", {"page": page, "q": request.GET.get("q", "")})


@customer_required
def ticket(request: HttpRequest, number: str) -> HttpResponse:
    ticket_, articles = get_customer_ticket(request.customer.login, number)
    form_error = ""
    if request.method == "POST" and request.POST.get("action") == "close":
        try:
            close_as_customer(login=request.customer.login, number=number)
        except ValidationFailed as exc:
            form_error = exc.message
        else:
            messages.success(request, _("The ticket is closed. An answer opens it again."))
            return redirect("portal:ticket", number=number)
    elif request.method == "POST":
        try:
            reply_as_customer(login=request.customer.login, number=number, body=request.POST.get("body", ""),
                              attachments=request.FILES.getlist("attachments"))  # fmt: skip
        except ValidationFailed as exc:
            form_error = " ".join(m for v in exc.field_errors.values() for m in v) or exc.message
        else:
            messages.success(request, _("Your answer was added."))
            return redirect("portal:ticket", number=number)
    names = person_names({a.author for a in articles} | {ticket_.customer_user_login})
    return render(
        request,
        "portal/ticket.html",
        {
            "ticket": ticket_,
            "customer_name": names.get(ticket_.customer_user_login.casefold(), ticket_.customer_user_login),
            "articles": [
                (article, names.get(article.author.casefold(), article.author)) for article in articles
            ],
            "can_reply": can_reply(request.customer.login, ticket_),
            "accepted": accepted_attachments(),
            "form_error": form_error,
            "body": request.POST.get("body", ""),
        },
        status=400 if form_error else 200,
    )


@customer_required
def ticket_attachment(request: HttpRequest, number: str, attachment_id: str) -> FileResponse:
    """A file of a ticket the customer may read, as a download (never shown inline: nosniff)."""
    found = customer_attachment(request.customer.login, number, attachment_id)
    response = FileResponse(found.file.open("rb"), as_attachment=True, filename=found.filename,
                            content_type=found.content_type)  # fmt: skip
    response["X-Content-Type-Options"] = "nosniff"
    return response


@customer_required
def new_ticket(request: HttpRequest) -> HttpResponse:
    login_ = request.customer.login
    queues = list(list_creatable_queues(login_))
    services = list_customer_user_services(login_)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            created = create_customer_ticket(
                login=login_,
                queue_id=request.POST.get("queue"),
                title=request.POST.get("title", ""),
                body=request.POST.get("body", ""),
                service=request.POST.get("service", ""),
                attachments=request.FILES.getlist("attachments"),
            )
        except ValidationFailed as exc:
            errors = exc.field_errors
        else:
            messages.success(request, _("Ticket %(number)s was opened.") % {"number": created.number})
            return redirect("portal:ticket", number=created.number)
    return render(
        request,
        "portal/new_ticket.html",
        {
            "queues": queues,
            "services": services,
            "errors": errors,
            "values": request.POST,
            "accepted": accepted_attachments(),
        },
        status=400 if errors else 200,
    )


@customer_required
def preferences(request: HttpRequest) -> HttpResponse:
    record = request.customer
    source = sources[record.source]
    can_change_password = source.sets_passwords
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and request.POST.get("form") == "language":
        language = request.POST.get("language", "")
        if language not in dict(settings.LANGUAGES):
            errors["language"] = [_("Choose one of the languages offered.")]
        else:
            set_customer_user_preference(login=record.login, key="UserLanguage", value=language)
            translation.activate(language)  # the confirmation in the language chosen
            messages.success(request, _("Your language was saved."))
            return redirect("portal:preferences")
    if request.method == "POST" and request.POST.get("form") == "password" and can_change_password:
        old, new, again = (
            request.POST.get(k, "") for k in ("old_password", "new_password", "new_password_again")
        )
        checked = check_current_password(record, old)
        if checked.reason == "locked":
            errors["old_password"] = [checked.message]
        elif not checked.ok:
            errors["old_password"] = [_("The current password is not right.")]
        elif not new:
            errors["new_password"] = [_("The new password must not be empty.")]
        elif new != again:
            errors["new_password_again"] = [_("The two new passwords differ.")]
        else:
            try:
                set_customer_user_password(login=record.login, password=new, acting_user=None)
            except CustomerUserInvalid as exc:
                errors["new_password"] = exc.field_errors.get("UserPassword") or [exc.message]
            else:
                request.session.cycle_key()  # this session goes on; the others end
                request.session[SESSION_VERSION_KEY] = session_version(record.login)
                messages.success(request, _("Your password was changed."))
                return redirect("portal:preferences")
    language = get_preference(record.login, "UserLanguage")
    return render(
        request,
        "portal/preferences.html",
        {
            "languages": settings.LANGUAGES,
            "language": language or translation.get_language(),
            "can_change_password": can_change_password,
            "source_name": source.config.name,
            "second_factor": two_factor.is_enabled(record.login),
            "errors": errors,
        },
        status=400 if errors else 200,
    )


def _int(value, default: int) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return default
