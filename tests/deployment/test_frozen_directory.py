"""A frozen directory costs its timeout once, not on every request (the circuit breaker in
backends/dispatch.py), in every worker; when it answers again, one request's probe brings it back.

Measured on the landed code: with slapd stopped by SIGSTOP every request waited the source's timeout,
database users included; throughput fell from 29 to 0.5 requests/s.
"""

from __future__ import annotations

import copy
import os
import signal
import time

import pytest

from helpdesk.config import DEFAULT_CUSTOMER_USER_SOURCE
from tests.deployment.conftest import Api, AppServer, app_environment, new_app_database, prepare, write_config
from tests.ldap_server import PEOPLE_DN, DirectoryServer, person

TIMEOUT = 2
RETRY_AFTER = 4


@pytest.fixture
def directory():
    server = DirectoryServer()
    server.start()
    server.load("\n".join(person(f"dir{n}", "Dora", "Dir", customer_id="DIR") for n in range(5)))
    yield server
    os.kill(server._proc.pid, signal.SIGCONT)
    server.stop()


def _timed_get(api: Api, login: str) -> tuple[float, int]:
    started = time.monotonic()
    status = api.request("GET", f"/api/v1/customer-users/{login}/").status_code
    return time.monotonic() - started, status


def test_a_frozen_directory_costs_its_timeout_once(directory, session_cluster_url, servers, tmp_path):
    directory_source = {
        "Name": "Directory", "Module": "LDAP",
        "Params": {"Host": directory.ldap_uri, "BaseDN": PEOPLE_DN, "SSCOPE": "one",
                   "AlwaysFilter": "(objectClass=inetOrgPerson)", "Params": {"timeout": TIMEOUT}},
        "CustomerKey": "uid", "CustomerID": "departmentNumber", "Timeout": TIMEOUT, "RetryAfter": RETRY_AFTER,
        "CustomerUserListFields": ["givenName", "sn", "mail"], "CustomerUserSearchFields": ["uid", "sn"],
        "CustomerUserNameFields": ["givenName", "sn"], "CustomerUserPostMasterSearchFields": ["mail"],
        "Map": [["UserFirstname", "Firstname", "givenName", 1, 1, "var"],
                ["UserLastname", "Lastname", "sn", 1, 1, "var"], ["UserLogin", "Username", "uid", 1, 1, "var"],
                ["UserEmail", "Email", "mail", 1, 1, "var"],
                ["UserCustomerID", "CustomerID", "departmentNumber", 0, 1, "var"]],
    }  # fmt: skip
    # The directory comes first (R10), so a database user's data get must hear from it first (R21).
    config = write_config(
        tmp_path / "helpdesk.toml",
        {"CustomerUser": directory_source, "CustomerUser1": copy.deepcopy(DEFAULT_CUSTOMER_USER_SOURCE)},
    )
    env = app_environment(new_app_database(session_cluster_url), HELPDESK_CONFIG=config)
    token = prepare(env)
    servers.append(AppServer(env, workers=2, threads=2).start())
    api = Api(servers, token)
    created = api.request(
        "POST", "/api/v1/customers/", json={"CustomerID": "DB", "CustomerCompanyName": "Db"}
    )
    assert created.status_code == 201, created.text
    created = api.request(
        "POST", "/api/v1/customer-users/",
        json={"source": "CustomerUser1", "UserLogin": "dbuser", "UserFirstname": "Db", "UserLastname": "User", "UserEmail": "db@example.com",
              "UserCustomerID": "DB"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    assert api.request("GET", "/api/v1/customer-users/dir1/").status_code == 200

    os.kill(directory._proc.pid, signal.SIGSTOP)
    first, status = _timed_get(api, "dbuser")
    assert status == 200
    assert first >= TIMEOUT * 0.9  # the first request waits for the directory once
    later = [_timed_get(api, "dbuser") for _ in range(20)]  # both workers, new connections
    assert all(status == 200 for _, status in later)
    assert max(seconds for seconds, _ in later) < TIMEOUT / 2
    skipped = api.request("GET", "/api/v1/customer-users/dir1/")
    assert skipped.status_code == 503
    assert skipped.json()["error"] == "source.unavailable"
    assert "skipped" in skipped.json()["message"]
    health = api.request("GET", "/health/")
    assert health.json()["status"] == "degraded"
    assert [(s["reachable"], s.get("state")) for s in health.json()["sources"]] == [
        (False, "skipped after failures"), (True, None)
    ]  # fmt: skip
    assert "ldap://" not in health.text  # issue 33, point 10: no URI, DN or server text without a login

    os.kill(directory._proc.pid, signal.SIGCONT)
    deadline = time.monotonic() + RETRY_AFTER + 10
    while api.request("GET", "/api/v1/customer-users/dir1/").status_code != 200:
        assert time.monotonic() < deadline, "the directory was not retried after RetryAfter"
        time.sleep(0.5)
