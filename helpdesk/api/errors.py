"""Every API error as `{"error": code, "message": text, "fields": {name: [messages]}}`."""

from __future__ import annotations

from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import HelpdeskError

CODES = {
    exceptions.ValidationError: "validation",
    exceptions.ParseError: "parse_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def exception_handler(exc, context):
    """Our HelpdeskErrors keep their code and status; DRF's get the same shape. (The handler's transaction
    is rolled back before this runs: AtomicMixin.)"""
    if isinstance(exc, HelpdeskError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), "error")
    fields: dict[str, list[str]] = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = {name: [str(m) for m in _flatten(messages)] for name, messages in detail.items()}
        message = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in fields.items())
    else:
        message = str(exc.detail) if hasattr(exc, "detail") else str(exc)
    response.data = {"error": code, "message": message, "fields": fields}
    return response


def _flatten(messages) -> list:
    if isinstance(messages, dict):
        return [f"{k}: {m}" for k, v in messages.items() for m in _flatten(v)]
    if isinstance(messages, list):
        return [m for item in messages for m in _flatten(item)]
    return [messages]
