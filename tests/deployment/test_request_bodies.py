"""Bodies the way HTTP sends them (issue 33, point 2), under gunicorn: a chunked body is read whole, never
taken as empty; a write without a body is refused."""

from __future__ import annotations

import json

from tests.deployment.conftest import Api, AppServer, add_customer_user, app_environment, prepare


def _chunked(payload: dict):
    """A body `requests` sends with Transfer-Encoding: chunked (a generator has no length)."""
    data = json.dumps(payload).encode()
    yield data[:5]
    yield data[5:]


def test_a_chunked_body_is_read_whole_and_a_missing_body_is_refused(own_cluster, static_root, servers):
    env = app_environment(own_cluster.create_database("helpdesk"), DJANGO_STATIC_ROOT=str(static_root))
    token = prepare(env)
    server = AppServer(env)
    servers.append(server.start())
    api = Api([server], token)
    add_customer_user(api, "chunky", "tg1")
    groups = "/api/v1/customer-users/chunky/groups/"
    assert api.request("PUT", groups, json={"tg1": ["rw"]}).ok

    chunked = api.request("PUT", groups, data=_chunked({"tg1": ["ro"]}),
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert chunked.request.headers.get("Transfer-Encoding") == "chunked"
    assert (chunked.status_code, api.request("GET", groups).json()) == (200, {"tg1": ["ro"]})

    patched = api.request("PATCH", "/api/v1/customer-users/chunky/", data=_chunked({"UserLastname": "Chunked"}),
                          headers={"Content-Type": "application/json"})  # fmt: skip
    assert (patched.status_code, patched.json()["UserLastname"]) == (200, "Chunked")

    empty = api.request("PUT", groups, headers={"Content-Type": "application/json"})
    assert (empty.status_code, list(empty.json()["fields"])) == (400, ["body"])
    assert api.request("GET", groups).json() == {"tg1": ["ro"]}  # nothing revoked
