"""The directory rules at the issue's size, against a real slapd: 10,000 people in an OU per company, 500
groups nested three levels deep with one cycle (tests.ldap_server.Organisation). What the product derives,
live and from a sync's shadow, equals what the generator works out on its own; a member taken out of a
group loses the derived permission on the next request (live) and within one incremental run (synced)."""

from __future__ import annotations

import random

import ldap
import pytest
from rest_framework.test import APIClient

from backends.models import ShadowEntry
from backends.registry import sources
from customers.models import Group
from customers.sync import sync_source
from permissions.matrix import get_permission_matrix
from tests.ldap_server import Organisation, SyncDirectoryServer

pytestmark = [pytest.mark.django_db, pytest.mark.ldap]

ALIAS = "CustomerUser1"


@pytest.fixture(scope="module")
def organisation():
    org = Organisation()
    server = SyncDirectoryServer()
    server.start()
    server.load(org.ldif())
    connection = ldap.initialize(server.ldap_uri)
    connection.simple_bind_s(server.root_dn, server.root_pw)
    server.connection = connection
    yield org, server
    connection.unbind_s()
    server.stop()


@pytest.fixture
def ruled(settings, organisation, ldap_source_settings, db_source_settings):
    org, server = organisation
    Group.objects.bulk_create([Group(name=name) for name in org.customer_groups()])

    def configure(**overrides):
        config = ldap_source_settings({"Host": server.ldap_uri, "SSCOPE": "sub"}, **org.rules(), **overrides)
        settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0), ALIAS: config}
        return sources[ALIAS]

    return configure


def _as_fixture(companies, groups) -> tuple[list[str], dict[str, list[str]]]:
    return [c.name for c in companies], {g.name: list(g.types) for g in groups}


def test_what_the_rules_derive_equals_the_independently_computed_fixture(ruled, organisation):
    org, _ = organisation
    source = ruled(Sync=True)

    outcome = sync_source(ALIAS, full=True)

    assert (outcome.ok, outcome.run.counts["added"]) == (True, org.users), outcome.message
    stored = dict(ShadowEntry.objects.filter(source=ALIAS).values_list("login", "derived"))
    mismatches = []
    for n in range(org.users):
        company, groups = org.expected(n)
        derived = stored[org.login(n)]
        got = ([c[0] for c in derived["companies"]], {g[0]: g[2] for g in derived["groups"]})
        if got != ([company], groups):
            mismatches.append((org.login(n), got, ([company], groups)))
    assert mismatches[:3] == []
    # Read live, the same answer (a sample, and the person twenty groups deep whose groups hold the cycle).
    sample = [0, *random.Random(1).sample(range(1, org.users), 100)]
    live = {n: _as_fixture(*source.derive(org.login(n))) for n in sample}
    expected = {n: ([org.expected(n)[0]], org.expected(n)[1]) for n in sample}
    assert live == expected
    assert len(live[0][1]) == 20


def test_a_member_removed_from_a_group_loses_the_permission_live_and_after_one_incremental_run(
    ruled, organisation
):
    org, server = organisation
    person = f"uid={org.login(0)},{org.ou(org.company(0))}".encode()
    group = org.group_dn("leaf", 1)
    ruled(Sync=False)  # live, CacheTTL 0
    assert get_permission_matrix(org.login(0)).allows("leaf001", "ro")
    ruled(Sync=True)
    sync_source(ALIAS, full=True)
    assert get_permission_matrix(org.login(0)).allows("leaf001", "ro")  # from the shadow

    server.connection.modify_s(group, [(ldap.MOD_DELETE, "member", [person])])
    try:
        ruled(Sync=False)
        live = get_permission_matrix(org.login(0))
        ruled(Sync=True)
        before_run = get_permission_matrix(org.login(0))
        outcome = sync_source(ALIAS)
        after_run = get_permission_matrix(org.login(0))
    finally:
        server.connection.modify_s(group, [(ldap.MOD_ADD, "member", [person])])

    assert live.why("leaf001", "ro") == ()
    assert live.allows("middle001", "ro")  # still held through leaf081
    assert before_run.allows("leaf001", "ro")  # the shadow answers what the last run saw
    assert (outcome.run.kind, outcome.run.counts.get("regranted")) == ("incremental", 1)
    assert after_run.why("leaf001", "ro") == ()
    assert [g.reason for g in after_run.why("middle001", "ro")] == [
        f"via directory group {org.group_dn('middle', 1)} (GroupRules[{org.leaves + 1}]): ro"
    ]


def test_the_preview_shows_twenty_groups_three_levels_deep(ruled, organisation, django_user_model):
    org, _ = organisation
    ruled()
    api = APIClient()
    api.force_authenticate(django_user_model.objects.create_superuser("root", password="x"))

    answer = api.post(f"/api/v1/sources/{ALIAS}/preview/", {"login": org.login(0)}, format="json")

    assert answer.status_code == 200, answer.content
    assert sorted(g["group"] for g in answer.json()["groups"]) == sorted(org.expected(0)[1])
    assert answer.json()["companies"][0]["customer_id"] == org.company(0)
