"""JSON bodies, bounded: size, nesting and text that no database can store are refused with a 400/413
naming where, before any view or service sees the body.

Measured on the landed code: a 5,000-deep array and a lone UTF-16 surrogate (`"\\ud800"`) in an attribute
both answered 500.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.parsers import JSONParser

from core.errors import HelpdeskError, ValidationFailed


class BodyTooLarge(HelpdeskError):
    code = "request.too_large"
    status = 413
    template = gettext_lazy("The request body has more than {limit} bytes.")


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise BodyTooLarge(limit=limit)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(raw.decode(encoding)) if raw else None
        except RecursionError as exc:
            raise ValidationFailed.on("body", _too_deep(settings.API_MAX_JSON_DEPTH)) from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValidationFailed.on("body", _("Not valid JSON: %(error)s.") % {"error": exc}) from exc
        check_json(data)
        return data


def check_json(data: Any) -> None:
    """Refuse nesting beyond API_MAX_JSON_DEPTH and strings with lone surrogates (no UTF-8 holds them)."""
    maximum = settings.API_MAX_JSON_DEPTH
    pending: list[tuple[Any, str, int]] = [(data, "body", 0)]
    while pending:
        value, where, depth = pending.pop()
        if depth > maximum:
            raise ValidationFailed.on(where, _too_deep(maximum))
        if isinstance(value, str):
            if has_surrogates(value):
                shown = value.encode("utf-8", "backslashreplace").decode()[:60]
                problem = _("%(value)r holds a lone UTF-16 surrogate, which is not a character.")
                raise ValidationFailed.on(where, problem % {"value": shown})
        elif isinstance(value, dict):
            for key, item in value.items():
                if has_surrogates(key):
                    raise ValidationFailed.on(where, _("A key holds a lone UTF-16 surrogate."))
                pending.append((item, key if depth == 0 else f"{where}.{key}", depth + 1))
        elif isinstance(value, list):
            pending.extend((item, f"{where}[{n}]", depth + 1) for n, item in enumerate(value))


def has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _too_deep(maximum: int) -> str:
    return _("JSON nested deeper than %(maximum)d levels.") % {"maximum": maximum}
