"""Two app servers of two gunicorn workers each on one PostgreSQL: a revoked permission and a changed
customer user are seen by every worker at once (R108, R11), with the default cache and with Redis.

Measured on the landed code with the old default (a per-process cache): 45-56 of 100 reads still showed
a revoked `rw`, and 47-54 of 100 data gets returned the old last name.
"""

from __future__ import annotations

import pytest

from tests.deployment.conftest import Api, AppServer, app_environment, new_app_database, prepare

READS = 100


def _rw_on_billing(api: Api, *, server: int | None = None) -> bool:
    answer = api.request("GET", "/api/v1/customer-users/anna/permissions/", server=server)
    assert answer.status_code == 200, answer.text
    rows = {row["group"]: row["permissions"] for row in answer.json()}
    return bool(rows.get("billing", {}).get("rw"))


@pytest.mark.parametrize("cache", ["default", "redis"])
def test_revocations_and_changes_reach_every_worker_of_every_app_server(
    cache, session_cluster_url, servers, request
):
    extra = {}
    if cache == "redis":
        extra = {
            "CACHE_BACKEND": "django.core.cache.backends.redis.RedisCache",
            "CACHE_LOCATION": request.getfixturevalue("redis_url"),
            "CACHE_KEY_PREFIX": f"test-{request.node.name}",
        }
    env = app_environment(new_app_database(session_cluster_url), **extra)
    token = prepare(env)
    servers += [AppServer(env).start(), AppServer(env).start()]
    api = Api(servers, token)

    created = api.request(
        "POST", "/api/v1/customers/", json={"CustomerID": "ACME", "CustomerCompanyName": "Acme"}
    )
    assert created.status_code == 201, created.text
    created = api.request(
        "POST", "/api/v1/customer-users/",
        json={"UserLogin": "anna", "UserFirstname": "Anna", "UserLastname": "Alt", "UserEmail": "anna@example.com",
              "UserCustomerID": "ACME"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert api.request("POST", "/api/v1/groups/", json={"name": "billing"}).status_code == 201

    # A grant is seen at once everywhere, after every worker has cached the empty matrix.
    assert not any(_rw_on_billing(api, server=n % 2) for n in range(20))
    assert (
        api.request("PUT", "/api/v1/customer-users/anna/groups/", json={"billing": ["rw"]}).status_code == 200
    )
    missed_grants = sum(not _rw_on_billing(api) for _ in range(READS))

    # A revocation too, after every worker has cached the matrix with rw.
    assert api.request("PUT", "/api/v1/customer-users/anna/groups/", json={}).status_code == 200
    stale_revocations = sum(_rw_on_billing(api) for _ in range(READS))

    # A cached read (CacheTTL 86400 on the shipped DB source) and a change through another server.
    for n in range(20):
        assert (
            api.request("GET", "/api/v1/customer-users/anna/", server=n % 2).json()["UserLastname"] == "Alt"
        )
    changed = api.request("PATCH", "/api/v1/customer-users/anna/", json={"UserLastname": "Neu"}, server=0)
    assert changed.status_code == 200, changed.text
    stale_reads = sum(
        api.request("GET", "/api/v1/customer-users/anna/").json()["UserLastname"] != "Neu"
        for _ in range(READS)
    )

    assert (missed_grants, stale_revocations, stale_reads) == (0, 0, 0)
