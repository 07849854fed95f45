"""Schemathesis against the API's own OpenAPI schema: no 500s, no response that breaks the schema.

Bounded: a few examples per operation, in-process through WSGI, on the test database.
"""

import base64

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from helpdesk.wsgi import application

pytestmark = [pytest.mark.django_db]

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)  # the schema needs no database
AUTH = {"Authorization": "Basic " + base64.b64encode(b"fuzz-admin:fuzz-pass-1").decode()}


@pytest.fixture(autouse=True)
def world(django_user_model, customer_factory, customer_user_factory, group_factory, service_factory,
          settings, db_source_settings):  # fmt: skip
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    django_user_model.objects.create_user("fuzz-admin", password="fuzz-pass-1", is_staff=True)
    customer_factory(customer_id="ACME", name="Acme")
    customer_user_factory(login="alice", customer_id="ACME", email="alice@example.com")
    group_factory(name="support")
    service_factory(name="VPN")
    # As Django's test client does: a request must not close the test's connection (and its transaction).
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_keeps_its_schema(case, world):
    case.call_and_validate(headers=AUTH, checks=[not_a_server_error, response_schema_conformance])
