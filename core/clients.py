"""Who is asking: the client address every lock and rate limit uses, one rule for all of them.

`X-Forwarded-For` is believed only behind `HELPDESK_TRUSTED_PROXIES` proxies of our own (nginx in
`docs/deploy/nginx.conf` is one): the address the n-th proxy from the app saw is the client's. Without
trusted proxies the header is ignored, since any client can send one.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings


def client_address(request: Any) -> str:
    meta = (getattr(request, "META", None) or {}) if request is not None else {}
    remote = str(meta.get("REMOTE_ADDR", ""))
    proxies = settings.TRUSTED_PROXIES
    if not proxies:
        return remote
    forwarded = [
        part.strip() for part in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if part.strip()
    ]
    return forwarded[-proxies] if len(forwarded) >= proxies else remote
