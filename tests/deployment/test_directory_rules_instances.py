"""A directory group decides a customer group's permission on two app servers of two gunicorn workers each
(issue 37): with a live source and `CacheTTL = 0`, a member taken out of the directory group loses the
permission on the next request, on every worker, however many answers were cached before."""

from __future__ import annotations

import ldap
import pytest

from tests.deployment.conftest import Api, AppServer, app_environment, new_app_database, prepare, write_config
from tests.ldap_server import BASE_DN, PEOPLE_DN, SERVICE_DN, SERVICE_PW, DirectoryServer, person

READS = 100
GROUPS_DN = f"ou=groups,{BASE_DN}"
BILLING_DN = f"cn=billing-readers,{GROUPS_DN}"
ANNA_DN = f"uid=anna,{PEOPLE_DN}"


@pytest.fixture
def directory():
    server = DirectoryServer()
    server.start()
    server.ldapadd(f"dn: {GROUPS_DN}\nobjectClass: organizationalUnit\nou: groups\n")
    server.ldapadd(person("anna", "Anna", "Alt", customer_id="ACME"))
    server.ldapadd(f"dn: {BILLING_DN}\nobjectClass: groupOfNames\ncn: billing-readers\nmember: {ANNA_DN}\n")
    yield server
    server.stop()


def _ro_on_billing(api: Api, *, server: int | None = None) -> bool:
    answer = api.request("GET", "/api/v1/customer-users/anna/permissions/", server=server)
    assert answer.status_code == 200, answer.text
    rows = {row["group"]: row["permissions"] for row in answer.json()}
    return bool(rows.get("billing", {}).get("ro"))


def test_a_directory_group_change_is_seen_by_every_worker_of_every_app_server(
    directory, session_cluster_url, servers, tmp_path
):
    source = {
        "Name": "Directory", "Module": "LDAP", "CacheTTL": 0, "CustomerGroupSupport": 1,
        "Params": {"Host": directory.ldap_uri, "BaseDN": PEOPLE_DN, "SSCOPE": "one", "UserDN": SERVICE_DN,
                   "UserPw": SERVICE_PW, "AlwaysFilter": "(objectClass=inetOrgPerson)"},
        "CustomerKey": "uid", "CustomerID": "departmentNumber",
        "CustomerUserListFields": ["givenName", "sn", "mail"], "CustomerUserSearchFields": ["uid", "sn"],
        "CustomerUserNameFields": ["givenName", "sn"], "CustomerUserPostMasterSearchFields": ["mail"],
        "GroupRules": [{"From": "group", "Match": BILLING_DN, "Group": "billing", "Types": ["ro"]}],
        "Map": [["UserFirstname", "Firstname", "givenName", 1, 1, "var"],
                ["UserLastname", "Lastname", "sn", 1, 1, "var"], ["UserLogin", "Username", "uid", 1, 1, "var"],
                ["UserEmail", "Email", "mail", 1, 1, "var"],
                ["UserCustomerID", "CustomerID", "departmentNumber", 0, 1, "var"]],
    }  # fmt: skip
    env = app_environment(
        new_app_database(session_cluster_url),
        HELPDESK_CONFIG=write_config(tmp_path / "helpdesk.toml", {"CustomerUser": source}),
    )
    token = prepare(env)
    servers += [AppServer(env).start(), AppServer(env).start()]
    api = Api(servers, token)
    assert api.request("POST", "/api/v1/groups/", json={"name": "billing"}).status_code == 201
    assert all(_ro_on_billing(api, server=n % 2) for n in range(20))  # every worker has answered it

    connection = ldap.initialize(directory.ldap_uri)
    connection.simple_bind_s(directory.root_dn, directory.root_pw)
    connection.modify_s(BILLING_DN, [(ldap.MOD_REPLACE, "member", [f"cn=nobody,{GROUPS_DN}".encode()])])
    stale_revocations = sum(_ro_on_billing(api) for _ in range(READS))
    connection.modify_s(BILLING_DN, [(ldap.MOD_ADD, "member", [ANNA_DN.encode()])])
    missed_grants = sum(not _ro_on_billing(api) for _ in range(READS))

    assert (stale_revocations, missed_grants) == (0, 0)
