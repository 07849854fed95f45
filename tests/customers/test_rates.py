"""Rates that hold under concurrency (issue 33, points 4 and 5): counted in the database, one statement per
request, before any password is hashed or mail sent.

Measured on the landed code: at 30/minute, 60 parallel token requests were all served (sequentially exactly
30); the panel's login had no limit per address (24 of 24 logins of a password spray were tried), and
every attempt cost a PBKDF2 hash.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from backends.sql import DBSource
from core.rates import Rate, hit
from customers.authentication import authenticate_customer_user
from customers.services import set_customer_user_password
from tests.bursts import in_parallel

PARALLEL = 40


@pytest.mark.sqlite
@pytest.mark.parametrize(
    ("text", "rate"), [("30/minute", Rate(30, 60)), ("5/h", Rate(5, 3600)), ("2/sec", Rate(2, 1)), ("", None)]
)
def test_rates_are_written_as_drf_writes_them(text, rate):
    assert Rate.parse(text) == rate


@pytest.mark.django_db(transaction=True)
def test_a_parallel_burst_gets_exactly_the_limit_through():
    rate = Rate(PARALLEL // 2, 60)
    waits = in_parallel(PARALLEL, lambda n: hit("test", "10.0.0.1", rate))
    assert waits.count(None) == PARALLEL // 2
    assert all(0 < wait <= 60 for wait in waits if wait is not None)
    assert hit("test", "10.0.0.2", rate) is None  # another key: its own count


@pytest.mark.django_db(transaction=True)
def test_parallel_api_requests_of_one_user_get_exactly_the_limit(django_user_model, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "10/minute", "user": "15/minute"})
    staff = django_user_model.objects.create_superuser("burst", "burst@example.com", "Burst-Pass-123")

    def call(n: int) -> int:
        client = APIClient()
        client.force_authenticate(staff)
        return client.get("/api/v1/groups/").status_code

    statuses = in_parallel(30, call)
    assert statuses.count(200) == 15
    assert statuses.count(429) == 15


@pytest.fixture
def panel(settings, db_source_settings, customer_user_factory):
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    settings.PANEL_RATES = {"login": "5/minute", "mail": "3/hour"}
    for n in range(8):
        customer_user_factory(login=f"spray{n}", email=f"spray{n}@example.com")
    set_customer_user_password(login="spray7", password="Right-password-7", acting_user=None)


@pytest.mark.sqlite
@pytest.mark.django_db
def test_a_password_spray_from_one_address_stops_at_its_rate_before_any_hashing(panel, monkeypatch):
    checked = []
    check_password = DBSource.check_password
    monkeypatch.setattr(
        DBSource, "check_password", lambda self, *a: checked.append(a[0]) or check_password(self, *a)
    )
    reasons = [
        authenticate_customer_user(f"spray{n}", "Summer2026!", remote_addr="10.0.0.9").reason
        for n in range(7)
    ]
    assert reasons == ["bad_credentials"] * 5 + ["throttled"] * 2
    assert len(checked) == 5
    throttled = authenticate_customer_user("spray7", "Right-password-7", remote_addr="10.0.0.9")
    assert (throttled.reason, len(checked)) == ("throttled", 5)
    assert 0 < throttled.retry_after <= 60
    assert authenticate_customer_user(
        "spray7", "Right-password-7", remote_addr="10.0.0.10"
    ).ok  # another address


@pytest.mark.django_db
def test_the_panel_says_429_with_retry_after(panel, client):
    for _ in range(5):
        assert client.post("/", {"login": "spray1", "password": "wrong"}).status_code == 401
    refused = client.post("/", {"login": "spray7", "password": "Right-password-7"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many requests from your address" in refused.content.decode()


@pytest.mark.django_db
def test_sign_up_and_lost_password_requests_share_a_rate_per_address(panel, client, settings):
    settings.HELPDESK_SETTINGS = {**settings.HELPDESK_SETTINGS, "CustomerPanelCreateAccount": 1}
    statuses = [client.post("/password-reset/", {"login": f"spray{n}"}).status_code for n in range(3)]
    assert statuses == [200, 200, 200]
    assert client.post("/password-reset/", {"login": "spray1"}).status_code == 429
    assert client.post("/signup/", {"UserEmail": "new@example.com"}).status_code == 429
