"""Requests no database can answer are refused before any view: a NUL character in the path.

Measured on the landed code: NUL in the customer panel's ticket number answered 500 (PostgreSQL refuses
it in a query). API answers keep the API's error shape; pages get Django's 400 page.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.translation import gettext as _

from core.errors import HelpdeskError
from core.history import acting
from helpdesk.portal.views import SESSION_KEY
from helpdesk.views import error_page

NUL = "\x00"


class ActingMiddleware:
    """Who acts through which path, for the history (core.history): the customer of a panel session, else
    the staff user of the request; the path by where the request goes. API clients that authenticate
    per request (tokens, Basic) are named by the services, which receive the API's user."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = (
            "api"
            if request.path.startswith("/api/")
            else "admin"
            if request.path.startswith("/admin/")
            else "panel"
        )
        user = getattr(request, "user", None)
        customer = request.session.get(SESSION_KEY) if path == "panel" else None
        if customer:
            name, user = f"customer:{customer}", None
        elif user is not None and user.is_authenticated:
            name = user.get_username()
        else:
            name, user = "anonymous", None
        with acting(path=path, name=name, user=user):
            return self.get_response(request)


class HelpdeskErrorMiddleware:
    """Any of the project's errors (core.errors.HelpdeskError: a source that is down, a login that does
    not exist, bad input) that a screen of the admin or the panel lets through is shown with its status and
    message, as the API's handler does for the API, instead of a 500."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, HelpdeskError) or request.path.startswith("/api/"):
            return None
        return error_page(exception.status, exception.message)


class RefuseNulMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # NUL in a search is a plain miss, answered by the search itself; in the path it names nothing.
        places = ["path"] if NUL in request.path else []
        if not places:
            return self.get_response(request)
        message = _("NUL characters in %(places)s.") % {"places": ", ".join(places)}
        if request.path.startswith("/api/"):
            fields = {name: [_("Must not contain NUL characters.")] for name in places}
            return JsonResponse({"error": "validation", "message": message, "fields": fields}, status=400)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
