"""Views of the deployment itself: the health check and the page shown when a request fails."""

from __future__ import annotations

import logging
import secrets
import sys
import threading
import time

from django.core.cache import cache, caches
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from backends.dispatch import ask_sources
from backends.registry import sources
from customers.sync import sync_health
from helpdesk.access import ANYONE, opens_to

try:  # the client is installed with the app; without it a Redis cache cannot be configured anyway
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover
    RedisError = OSError


request_logger = logging.getLogger("django.request")
UNAVAILABLE = "The {what} is unavailable; try again shortly."
# What /health/ (no login) says of a source that did not answer (backends.dispatch sets the state).
SOURCE_STATES = {"timeout": "timeout", "skipped": "skipped after failures"}


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        check()
    except (DatabaseError, RedisError, OSError) as exc:
        return {"ok": False, "ms": _ms(started), "detail": type(exc).__name__}
    return {"ok": True, "ms": _ms(started)}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    key = f"health-probe:{secrets.token_hex(8)}"  # one per request: concurrent checks never collide
    cache.set(key, 1, 30)
    if cache.get(key) != 1:
        raise OSError("the cache did not return what was stored")
    cache.delete(key)


@opens_to(ANYONE)
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """`GET /health/`: the database, the shared cache and every source, with their answer times (and a
    synced directory's last run: a failed, refused or overdue sync makes the status "degraded").

    200 while the database works: a shared cache or a source that cannot be reached makes the status
    "degraded" (answers are computed from the database; the other sources serve their users); 503 when the
    database is down. No login needed, and nothing secret in it.
    """
    database = _timed(_check_database)
    shared_cache = _timed(_check_cache) if database["ok"] else {"ok": False, "detail": "database down"}
    shared_cache["backend"] = type(caches["default"]).__name__
    if database["ok"] and not shared_cache["ok"]:
        shared_cache["state"] = "degraded: answers are computed from the database"
    report_sources = []
    syncs = sync_health() if database["ok"] else {}
    if database["ok"]:
        started = time.perf_counter()
        for answer in ask_sources(sources, sources.aliases, "health", lambda source: source.ping()):
            config = sources.configs[answer.alias]
            entry = {"alias": answer.alias, "name": config.name, "kind": sources[answer.alias].kind}
            entry["reachable"] = answer.error is None
            entry["ms"] = _ms(started)
            if answer.error is not None:  # a state in words: never a URI, DN or a server's error text
                entry["state"] = SOURCE_STATES.get(str(answer.error.fields.get("state")), "unreachable")
            if answer.alias in syncs:  # a synced directory: its last run, and a failed or overdue one
                entry["sync"] = syncs[answer.alias]
            report_sources.append(entry)
    ok = database["ok"]
    degraded = not shared_cache["ok"] or any(
        not entry["reachable"] or entry.get("sync", {}).get("problem") for entry in report_sources
    )
    body = {
        "status": "ok" if ok and not degraded else "degraded" if ok else "unavailable",
        "database": database,
        "cache": shared_cache,
        "sources": report_sources,
    }
    return JsonResponse(body, status=200 if ok else 503)


def error_page(status: int, message: str) -> HttpResponse:
    """The page of every error outside the API (which answers its JSON shape): the status and what
    happened; a 503 says when to try again."""
    response = HttpResponse(
        render_to_string("error.html", {"status": status, "message": message}), status=status
    )
    if status == 503:
        response["Retry-After"] = "5"
    return response


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403: refused, in the look of the surface asked (the admin's, the panel's, the API's shape)."""
    message = _("You may not open this page. Ask a Customer administrator if you need it.")
    return _refused(request, 403, "forbidden", _("Not allowed"), message)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: not found, in the look of the surface asked, with what was not found where a view said."""
    said = exception.args[0] if exception is not None and exception.args else None
    message = said if isinstance(said, str) and said else _("There is no such page.")
    return _refused(request, 404, "not_found", _("Not found"), message)


def _refused(request: HttpRequest, status: int, code: str, title: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"error": code, "message": message, "fields": {}}, status=status)
    context = {"title": title, "message": message}
    user = getattr(request, "user", None)
    if request.path.startswith("/admin/") and user is not None and user.is_active and user.is_staff:
        from django.contrib import admin

        page = TemplateResponse(
            request, "admin/refused.html", {**admin.site.each_context(request), **context}
        )
    else:
        page = TemplateResponse(request, "portal/refused.html", context)
    page.status_code = status
    return page.render()


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a request that failed. A database or cache that is down is a 503 that says so, as JSON
    under /api/ (the API's error shape) and as a short page elsewhere; anything else is a 500."""
    exc = sys.exc_info()[1]
    if isinstance(exc, OperationalError | InterfaceError):  # down, restarting, or a transient conflict
        status, code, message = 503, "database.unavailable", UNAVAILABLE.format(what="database")
    elif isinstance(exc, RedisError):
        status, code, message = 503, "cache.unavailable", UNAVAILABLE.format(what="shared cache")
    elif isinstance(exc, ValueError) and "staticfiles manifest" in str(exc):  # a page needs a static file
        status, code = 500, "static_files.not_collected"
        message = "The static files are not collected: run `manage.py collectstatic --noinput` (README)."
    else:
        status, code, message = 500, "server_error", "The server could not answer this request."
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": code, "message": message, "fields": {}}, status=status)
    else:
        response = error_page(status, message)
    if status == 503:
        response["Retry-After"] = "5"  # recovery needs no restart: the next request reconnects
    _log_failure(request, status, code, exc)
    response._has_been_logged = True  # by _log_failure: Django's own line would repeat the traceback
    return response


TRACEBACK_EVERY = 60.0  # seconds: a cause's traceback once a minute per process; one line per request always
_tracebacks: dict[tuple[str, str], float] = {}
_tracebacks_lock = threading.Lock()


def _log_failure(request: HttpRequest, status: int, code: str, exc: BaseException | None) -> None:
    """One line per failed request (status, code, method, path); the traceback of a cause (its exception's
    type and where it was raised) at most once a minute, so an outage cannot flood the log."""
    cause = (type(exc).__qualname__, _raised_at(exc))
    now = time.monotonic()
    with _tracebacks_lock:
        first = now - _tracebacks.get(cause, float("-inf")) >= TRACEBACK_EVERY
        if first:
            _tracebacks[cause] = now
    request_logger.error(
        "%s %s %s %s%s", status, code, request.method, request.path,
        "" if first else f" ({cause[0]} at {cause[1]}; its traceback was logged within the last minute)",
        exc_info=exc if first else None,
    )  # fmt: skip


def _raised_at(exc: BaseException | None) -> str:
    trace = exc.__traceback__ if exc is not None else None
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    return f"{trace.tb_frame.f_code.co_filename}:{trace.tb_lineno}" if trace is not None else "?"
