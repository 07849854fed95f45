"""Answers follow the configuration (issue 34, point 1): two app servers of two workers each on one
database and its shared cache; every answer warmed with group support off, then both restarted with it on.

Measured on the landed code: after the restart the customer kept every group (R103: without group support a
customer user holds every permission type on every group) for as long as it was watched; the cached
matrices were keyed by data generations only, not by the configuration that computed them.
"""

from __future__ import annotations

import copy

from helpdesk.config import DEFAULT_CUSTOMER_USER_SOURCE
from tests.deployment.conftest import (
    Api,
    AppServer,
    add_customer_user,
    app_environment,
    new_app_database,
    prepare,
    write_config,
)

READS = 100


def _groups(api: Api) -> dict:
    answer = api.request("GET", "/api/v1/customer-users/anna/permissions/")
    assert answer.status_code == 200, answer.text
    return {
        row["group"]: sorted(k for k, held in row["permissions"].items() if held) for row in answer.json()
    }


def test_a_restart_with_another_configuration_computes_new_answers_everywhere(
    session_cluster_url, servers, tmp_path
):
    source = copy.deepcopy(DEFAULT_CUSTOMER_USER_SOURCE) | {"CustomerGroupSupport": 0}
    config = tmp_path / "helpdesk.toml"
    env = app_environment(
        new_app_database(session_cluster_url), HELPDESK_CONFIG=write_config(config, {"CustomerUser": source})
    )
    token = prepare(env)
    servers += [AppServer(env).start(), AppServer(env).start()]
    api = Api(servers, token)
    add_customer_user(api, "anna", "billing")
    warm = [_groups(api) for _ in range(20)]  # every worker of both servers computes and caches its answer
    assert all("rw" in groups.get("billing", []) for groups in warm)  # R103: every group, every type

    for server in servers:
        server.stop()
    write_config(config, {"CustomerUser": source | {"CustomerGroupSupport": 1}})
    servers[:] = [AppServer(env).start(), AppServer(env).start()]
    api = Api(servers, token)
    stale = sum("rw" in _groups(api).get("billing", []) for _ in range(READS))
    assert stale == 0, f"{stale} of {READS} answers kept every group after group support was switched on"
