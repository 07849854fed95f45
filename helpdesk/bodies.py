"""Request bodies the way HTTP sends them (style §14.23).

A body sent with `Transfer-Encoding: chunked` has no Content-Length, and Django reads such a body as empty:
a `PUT` of a group set then meant "revoke everything". Here, below Django, a chunked body is read whole
(the server has already taken the chunks apart where it says so with `wsgi.input_terminated`, as gunicorn
does) and handed on with its length; larger than the largest body the app accepts, it is a 413; where the
server cannot end the stream, a 411. Nothing else is changed.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


class ChunkedBodies:
    """WSGI middleware: a chunked request body read completely, or refused; never taken as empty."""

    def __init__(self, application: Callable[[Environ, StartResponse], Iterable[bytes]]) -> None:
        self.application = application

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        chunked = "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            if not environ.get("wsgi.input_terminated"):
                return _refuse(start_response, "411 Length Required", "This server needs a Content-Length.")
            limit = largest_body()
            body = environ["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                return _refuse(start_response, "413 Content Too Large", f"A body has at most {limit} bytes.")
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)


def largest_body() -> int:
    """The largest body any part of the app reads: the API's bound or Django's for forms."""
    return max(settings.API_MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0)


def _refuse(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = f'{{"error": "request.body", "message": "{text}"}}'.encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
