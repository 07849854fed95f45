"""The API's request rates (`HELPDESK_API_ANON_RATE` per client address, `HELPDESK_API_USER_RATE` per staff
user), counted by core.rates so that parallel requests on every worker and app server are counted exactly
(DRF's own throttles read a history from the cache and write it back, which lets a burst through)."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from core.clients import client_address
from core.rates import Rate, hit


class CountedRate(SimpleRateThrottle):
    """`scope`'s rate from DEFAULT_THROTTLE_RATES, for the key `get_cache_key` names (None: not counted)."""

    wait_seconds: float | None = None

    def allow_request(self, request, view) -> bool:
        key = self.get_cache_key(request, view) if self.rate else None
        if key is None:
            return True
        self.wait_seconds = hit(f"api {self.scope}", key, Rate(self.num_requests, self.duration))
        return self.wait_seconds is None

    def wait(self) -> float | None:
        return self.wait_seconds


class AddressRate(CountedRate):
    """Anonymous requests, per client address (core.clients: X-Forwarded-For only behind trusted proxies)."""

    scope = "anon"

    def get_cache_key(self, request, view) -> str | None:
        return None if request.user and request.user.is_authenticated else client_address(request)


class StaffUserRate(CountedRate):
    """Authenticated requests, per staff user, whichever token, session or address they come with."""

    scope = "user"

    def get_cache_key(self, request, view) -> str | None:
        return str(request.user.pk) if request.user and request.user.is_authenticated else None
