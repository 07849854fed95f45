"""Schemathesis against the API's own OpenAPI schema: no 500s, no response that breaks the schema, no
wrong value stored, for generated input, for a corpus of hostile values, and for sequences of calls.

Bounded: a few examples per operation, in-process through WSGI, on the test database.
"""

import base64
import functools
import json
import re

import pytest
import schemathesis
from django.contrib.auth.models import Group as AuthGroup
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from customers.models import Customer, CustomerUser, Group, Service
from helpdesk.wsgi import application
from staff.roles import CUSTOMER_ADMINISTRATORS

pytestmark = [pytest.mark.django_db]


def load_schema():
    """The API's schema as /api/v1/schema/ serves it to staff, generated in-process (no database, no
    login), its calls made through WSGI."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(generated)))
    loaded.app, loaded.location = application, "/api/v1/schema/"
    return loaded


schema = load_schema()
AUTH = {"Authorization": "Basic " + base64.b64encode(b"fuzz-admin:fuzz-pass-1").decode()}


@pytest.fixture(autouse=True)
def world(django_user_model, customer_factory, customer_user_factory, group_factory, service_factory,
          settings, db_source_settings):  # fmt: skip
    settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0)}
    fuzzer = django_user_model.objects.create_user("fuzz-admin", password="fuzz-pass-1", is_staff=True)
    fuzzer.groups.add(AuthGroup.objects.get(name=CUSTOMER_ADMINISTRATORS))
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


# ------------------------------------------------------------------------- hostile values, stateful runs
# The same schema, loaded again, with hooks that put one value of a hostile corpus into each generated
# body, query and path: surrogates, NUL and other control characters, deep nesting, huge strings, wrong
# JSON types, RFC 4515 filter and SQL metacharacters (tests/api/test_hostile_input.py checks each by hand).
hostile = load_schema()
HOSTILE_TEXT = [
    "\ud800", "a\udfffb", "\x00", "a\x00b", "\x01", "\x1b[31m", "line\nbreak", "\u2028", "x" * 100_000,
    "*", "**", "*)(uid=*", "\\2a", "(|(uid=*))", "\\00", "'; DROP TABLE customer_user; --", "' OR '1'='1",
    "%", "_", "\\", "ü" * 300, "ｌ00022",
]  # fmt: skip
DEEP = functools.reduce(lambda inner, _: [inner], range(40), "deep")  # deeper than API_MAX_JSON_DEPTH
HOSTILE_JSON = [["x"], {"a": 1}, True, False, 3.5, -1, 10**30, None, [], {}, DEEP]
HOSTILE = HOSTILE_TEXT + HOSTILE_JSON
# A URL carries bytes: no client can put a lone surrogate in one; NUL in a path is refused before routing.
HOSTILE_IN_URLS = [
    text[:5000]
    for text in HOSTILE_TEXT
    if text.encode("utf-8", "ignore").decode() == text and "\x00" not in text
]
# What a non-text value would look like had a source stored it as text (`["x"]` → "['x']").
WRONG_AS_TEXT = {str(value) for value in HOSTILE_JSON if not isinstance(value, int | float)}


def _with_one_hostile(container, values):
    if isinstance(container, dict) and container:
        return st.tuples(st.sampled_from(sorted(container)), st.sampled_from(values)).map(
            lambda pair: {**container, pair[0]: pair[1]}
        )
    if isinstance(container, list) and container:
        return st.tuples(st.integers(0, len(container) - 1), st.sampled_from(values)).map(
            lambda pair: [*container[: pair[0]], pair[1], *container[pair[0] + 1 :]]
        )
    return st.just(container)


@hostile.hook
def flatmap_body(ctx, body):
    return _with_one_hostile(body, HOSTILE)


@hostile.hook
def flatmap_query(ctx, query):
    return _with_one_hostile(query, HOSTILE_IN_URLS)


@hostile.hook
def flatmap_path_parameters(ctx, path_parameters):
    return _with_one_hostile(path_parameters, HOSTILE_IN_URLS)


def nothing_wrong_is_stored() -> None:
    """No stored key holds a control character, and no text is a non-text value written out."""
    control = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
    keys = [
        *CustomerUser.objects.values_list("login", "email", "customer_id"),
        *Customer.objects.values_list("customer_id"),
        *Group.objects.values_list("name"),
        *Service.objects.values_list("name"),
    ]
    assert not [key for row in keys for key in row if control.search(key)]
    texts = CustomerUser.objects.values_list("login", "email", "customer_id", "first_name", "last_name")
    assert not [text for row in texts for text in row if text in WRONG_AS_TEXT]
    assert not Customer.objects.filter(name__in=WRONG_AS_TEXT).exists()


@hostile.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_hostile_values_never_answer_5xx_or_store_a_wrong_value(case, world):
    case.call_and_validate(headers=AUTH, checks=[not_a_server_error])
    nothing_wrong_is_stored()


def test_sequences_of_calls_keep_the_schema_and_store_nothing_wrong(world):
    """Stateful: calls chained by the links inferred from the schema (create a customer, then read,
    change and relate it), each step with a hostile value or a generated one."""

    class Workflow(hostile.as_state_machine()):
        def setup(self):  # every sequence starts from the world, so Hypothesis can replay it
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def get_call_kwargs(self, case):
            return {"headers": AUTH}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
            nothing_wrong_is_stored()

    Workflow.run(
        settings=settings(
            max_examples=25, stateful_step_count=6, deadline=None, suppress_health_check=list(HealthCheck)
        )
    )
