"""scim2-tester (the python-scim project's checker) against the SCIM server on a live HTTP server started
by the test: discovery, then create, read, replace, PATCH and delete of users and groups with every
attribute the server publishes in /Schemas."""

from __future__ import annotations

import pytest

from customers.models import Customer
from provisioning.clients import create_scim_client

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_scim2_tester_passes_every_check(settings, db_source_settings, live_server):
    from httpx2 import Client
    from scim2_client.engines.httpx2 import SyncSCIMClient
    from scim2_tester import Status, check_server

    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    Customer.objects.create(customer_id="ACME", name="Acme")
    _client, token = create_scim_client(name="tester", source="CustomerUser", companies=["ACME"])
    http = Client(base_url=f"{live_server.url}/scim/v2", headers={"Authorization": f"Bearer {token}"})

    results = check_server(SyncSCIMClient(http))

    failed = [(r.title, r.reason, str(r.data)[:300]) for r in results if r.status == Status.ERROR]
    assert failed == []
    assert sum(r.status == Status.SUCCESS for r in results) >= 20
