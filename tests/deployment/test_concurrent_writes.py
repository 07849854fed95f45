"""Replacing a relation set under real concurrency: 20 parallel PUTs with different sets on gunicorn with
several workers. Measured on the landed code: 4-11 answers 500 and a final state equal to none of the
20 sets (a union of several); customer ↔ groups 10 × 500; customer user ↔ customers 8 × 500."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.deployment.conftest import Api, AppServer, app_environment, new_app_database, prepare

WRITERS = 20


def _race(api: Api, path: str, bodies: list) -> list[int]:
    with ThreadPoolExecutor(WRITERS) as pool:
        return list(pool.map(lambda body: api.request("PUT", path, json=body).status_code, bodies))


def test_the_last_writer_wins_whole_and_nobody_gets_a_500(session_cluster_url, servers):
    env = app_environment(new_app_database(session_cluster_url))
    token = prepare(env)
    servers.append(AppServer(env, workers=4, threads=4).start())
    api = Api(servers, token)
    for n in range(WRITERS):
        assert api.request("POST", "/api/v1/groups/", json={"name": f"g{n:02d}"}).status_code == 201
        customer = {"CustomerID": f"C{n:02d}", "CustomerCompanyName": f"Company {n}"}
        assert api.request("POST", "/api/v1/customers/", json=customer).status_code == 201
    user = {"UserLogin": "rita", "UserFirstname": "Rita", "UserLastname": "Race", "UserEmail": "rita@example.com",
            "UserCustomerID": "C00"}  # fmt: skip
    assert api.request("POST", "/api/v1/customer-users/", json=user).status_code == 201

    def group_set(n: int) -> dict[str, list[str]]:
        return {f"g{(n + k) % WRITERS:02d}": ["ro"] if k % 2 else ["rw"] for k in range(3)}

    group_sets = [group_set(n) for n in range(WRITERS)]
    statuses = _race(api, "/api/v1/customer-users/rita/groups/", group_sets)
    final = api.request("GET", "/api/v1/customer-users/rita/groups/").json()
    assert (set(statuses), final in group_sets) == ({200}, True)

    statuses = _race(api, "/api/v1/customers/C00/groups/", group_sets)
    final = api.request("GET", "/api/v1/customers/C00/groups/").json()
    assert (set(statuses), final in group_sets) == ({200}, True)

    customer_sets = [[f"C{(n + k) % WRITERS:02d}" for k in range(1, 4)] for n in range(WRITERS)]
    statuses = _race(api, "/api/v1/customer-users/rita/customers/", customer_sets)
    final = api.request("GET", "/api/v1/customer-users/rita/customers/").json()
    assert set(statuses) == {200}
    assert sorted(final) in [sorted(s) for s in customer_sets]
