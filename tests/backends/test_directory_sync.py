"""The directory lifecycle against a real slapd with syncprov (RFC 4533) and ppolicy: full and incremental
sync, stable identity through renames and moves, disabled accounts, deletions made invalid and never
deleted, the guard, dry runs, the lease, and searches served from the shadow agreeing with the directory."""

from __future__ import annotations

import ldap
import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from backends.base import SearchQuery
from backends.models import ShadowEntry, SyncRun, SyncState
from backends.registry import sources
from core.models import HistoryEntry
from customers.models import Customer, CustomerUserCustomer
from customers.sync import holder_name, sync_source, take_lease
from tests.ldap_server import PEOPLE_DN, SERVICE_DN, SERVICE_PW, SyncDirectoryServer, person

pytestmark = [pytest.mark.django_db, pytest.mark.ldap]

ALIAS = "CustomerUser1"
PEOPLE = 120
OTHER_DN = f"ou=partners,{PEOPLE_DN.split(',', 1)[1]}"


@pytest.fixture
def directory():
    """A fresh directory per test: PEOPLE people under ou=people, each test changes it as it likes."""
    server = SyncDirectoryServer()
    server.start()
    server.ldapadd("\n".join(
        person(f"p{n:03d}", "Anna" if n % 2 else "Jörg", f"Müller{n:03d}", customer_id=f"C{n % 3}",
               disabled=n % 40 == 39)
        for n in range(PEOPLE)
    ))  # fmt: skip
    connection = ldap.initialize(server.ldap_uri)
    connection.simple_bind_s(server.root_dn, server.root_pw)
    server.connection = connection
    yield server
    connection.unbind_s()
    server.stop()


@pytest.fixture
def synced(settings, directory, ldap_source_settings, db_source_settings):
    def configure(**overrides):
        always = overrides.pop("AlwaysFilter", "(objectClass=inetOrgPerson)")
        config = ldap_source_settings(
            {"Host": directory.ldap_uri, "SSCOPE": "sub", "BaseDN": PEOPLE_DN.split(",", 1)[1]},
            Sync=True, DisabledPreset="openldap-ppolicy", CustomerGroupSupport=0, **overrides,
        )  # fmt: skip
        config["Params"]["AlwaysFilter"] = always
        settings.CUSTOMER_USER_BACKENDS = {"CustomerUser": db_source_settings(CacheTTL=0), ALIAS: config}
        return sources[ALIAS]

    return configure


def shadow_table():
    return sorted(ShadowEntry.objects.filter(source=ALIAS).values_list(
        "identity", "dn", "login", "attributes", "search_key", "valid_id", "listed", "disabled", "present"
    ))  # fmt: skip


def entry_uuid(directory, uid):
    found = directory.connection.search_s(PEOPLE_DN, ldap.SCOPE_ONELEVEL, f"(uid={uid})", ["entryUUID"])
    return found[0][1]["entryUUID"][0].decode()


def test_a_full_sync_writes_one_shadow_row_per_entry_and_reads_then_come_from_it(synced, directory):
    source = synced()
    live = {term: [r.login for r in source.search(SearchQuery(term=term)).records]
            for term in ("anna", "*ller00*", "müller01* OR jörg", "anna+!p00*", "p00*", "*r00?")}  # fmt: skip
    live_get = source.get("p007")
    assert source.search(SearchQuery(folded="jorg+muller002")).records == []  # a directory keeps accents

    outcome = sync_source(ALIAS)

    assert (outcome.ok, outcome.run.kind, outcome.run.counts["added"]) == (True, "full", PEOPLE)
    assert ShadowEntry.objects.filter(source=ALIAS).count() == PEOPLE
    directory.stop()  # from here on only the shadow can answer
    source = sources[ALIAS]
    assert {term: [r.login for r in source.search(SearchQuery(term=term)).records] for term in live} == live
    assert source.get("p007") == live_get
    assert [r.login for r in source.search(SearchQuery(postmaster="P005@example.org")).records] == ["p005"]
    assert source.count() == (PEOPLE, True)
    folded = {t: [r.login for r in source.search(SearchQuery(folded=t)).records]
              for t in ("jorg+muller002", "MULLER003", "*uller00*+jörg", "jorg+!p002")}  # fmt: skip
    assert folded == {"jorg+muller002": ["p002"], "MULLER003": ["p003"], "*uller00*+jörg": ["p000", "p002",
                      "p004", "p006", "p008"], "jorg+!p002": []}  # fmt: skip


def test_an_incremental_run_applies_exactly_what_changed_in_the_directory(
    synced, directory, django_user_model
):
    synced()
    sync_source(ALIAS, full=True)
    Customer.objects.create(customer_id="C1", name="C one")
    CustomerUserCustomer.objects.create(login="p010", customer_id="C1")
    renamed_identity = entry_uuid(directory, "p010")
    c = directory.connection
    c.modify_s(f"uid=p001,{PEOPLE_DN}", [(ldap.MOD_REPLACE, "sn", [b"Changed"])])
    c.delete_s(f"uid=p002,{PEOPLE_DN}")
    directory.ldapadd(person("p900", "Neu", "Person", customer_id="C1"))
    c.rename_s(f"uid=p010,{PEOPLE_DN}", "uid=p010-new")  # renamed: same entry, new login
    c.rename_s(f"uid=p011,{PEOPLE_DN}", "uid=p011", newsuperior=OTHER_DN)  # moved
    c.modify_s(f"uid=p012,{PEOPLE_DN}", [(ldap.MOD_ADD, "pwdAccountLockedTime", [b"000001010000Z"])])

    outcome = sync_source(ALIAS)

    run = outcome.run
    assert (run.kind, run.status) == ("incremental", "succeeded")
    assert {k: v for k, v in run.counts.items() if k not in ("read", "unchanged")} == {
        "added": 1, "changed": 2, "renamed": 1, "disabled": 1, "gone": 1,
    }  # fmt: skip
    source = sources[ALIAS]
    assert source.get("p001")["UserLastname"] == "Changed"
    assert (source.get("p002").valid_id, source.get("p012").valid_id) == (2, 2)  # gone, disabled: invalid
    assert source.get("p011").get("DN") == f"uid=p011,{OTHER_DN}"
    assert (source.get("p010"), source.get("p010-new").login) == (None, "p010-new")
    assert ShadowEntry.objects.get(source=ALIAS, identity=renamed_identity).login == "p010-new"
    assert list(CustomerUserCustomer.objects.values_list("login", flat=True)) == ["p010-new"]  # R121
    assert ShadowEntry.objects.filter(source=ALIAS).count() == PEOPLE + 1  # nothing deleted
    gone = HistoryEntry.objects.get(action="customer_user.synced", object_key="p002", detail__change="gone")
    assert (gone.actor_name, gone.detail["run"], gone.detail["rule"]) == (
        f"sync:{ALIAS}",
        run.pk,
        "entry absent",
    )
    assert f"run {run.pk}" in gone.detail["reason"]
    # The API answers the gone person with its validity; a search of valid users no longer lists them.
    api = APIClient()
    api.force_authenticate(django_user_model.objects.create_superuser("root", password="x"))
    answer = api.get("/api/v1/customer-users/p002/")
    assert answer.status_code == 200, answer.content
    assert answer.json()["ValidID"] == 2, answer.json()
    assert [r.login for r in source.search(SearchQuery(term="p002")).records] == []
    # A second run finds nothing more to do.
    again = sync_source(ALIAS).run
    assert {k: v for k, v in again.counts.items() if v and k not in ("read", "unchanged")} == {}


def test_without_content_synchronisation_changes_are_found_by_time_and_deletions_by_absence(
    synced, directory, monkeypatch
):
    monkeypatch.setattr("backends.ldap.sync.DirectoryReader.syncrepl_offered", lambda self: False)
    monkeypatch.setattr("backends.ldap.sync.CLOCK_SKEW", __import__("datetime").timedelta(seconds=0))
    synced()
    sync_source(ALIAS)
    directory.connection.delete_s(f"uid=p003,{PEOPLE_DN}")
    __import__("time").sleep(1.1)  # modifyTimestamp has whole seconds
    directory.connection.modify_s(f"uid=p004,{PEOPLE_DN}", [(ldap.MOD_REPLACE, "sn", [b"Later"])])

    run = sync_source(ALIAS).run

    assert (run.kind, run.counts.get("gone"), run.counts.get("changed")) == ("incremental", 1, 1)
    assert sources[ALIAS].get("p003").valid_id == 2


def test_a_disabled_account_cannot_log_in_on_the_next_request(synced, directory):
    source = synced()
    sync_source(ALIAS)
    from customers.authentication import authenticate_customer_user as login

    assert login("p020", "Directory-pass-1").ok
    directory.connection.modify_s(
        f"uid=p020,{PEOPLE_DN}", [(ldap.MOD_ADD, "pwdAccountLockedTime", [b"000001010000Z"])]
    )

    assert not login("p020", "Directory-pass-1").ok  # live, before any sync
    assert source.get("p020").valid_id == 1  # the shadow says so after the next sync
    sync_source(ALIAS)
    assert sources[ALIAS].get("p020").valid_id == 2


def test_the_guard_refuses_a_filter_typo_that_would_drop_most_people(synced, directory):
    synced()
    sync_source(ALIAS)
    before = shadow_table()
    synced(AlwaysFilter="(&(objectClass=inetOrgPerson)(givenName=Anna)(uid=p0[0-1]*))".replace("[0-1]", "0"))

    with pytest.raises(CommandError, match="guard"):
        call_command("sync_source", ALIAS, verbosity=0)
    assert shadow_table() == before
    assert SyncRun.objects.first().status == "refused"

    call_command("sync_source", ALIAS, "--dry-run", verbosity=0)
    assert (SyncRun.objects.first().status, shadow_table() == before) == ("dry-run", True)
    call_command("sync_source", ALIAS, "--confirm", verbosity=0)
    assert ShadowEntry.objects.filter(source=ALIAS, present=False).count() > PEOPLE * 0.8


def test_one_run_per_source_at_a_time(synced):
    synced()
    assert take_lease(ALIAS, "elsewhere.example:1")

    outcome = sync_source(ALIAS)

    assert (outcome.run, outcome.ok, "elsewhere.example:1" in outcome.message) == (None, True, True)
    assert SyncState.objects.get(source=ALIAS).holder == "elsewhere.example:1"
    assert not take_lease(ALIAS, holder_name())


def test_a_write_through_the_product_reaches_the_directory_then_the_shadow(synced, directory):
    synced(ReadOnly=0, Params={"Host": directory.ldap_uri, "BaseDN": PEOPLE_DN, "SSCOPE": "one",
                               "UserDN": SERVICE_DN, "UserPw": SERVICE_PW})  # fmt: skip
    sync_source(ALIAS)
    from customers.services import update_customer_user

    update_customer_user(login="p030", changes={"UserLastname": "Written"}, acting_user=None)

    row = ShadowEntry.objects.get(source=ALIAS, login="p030")
    assert row.attributes["UserLastname"] == "Written"
    assert sources[ALIAS].search(SearchQuery(term="written")).records[0].login == "p030"


def test_a_new_configuration_reads_the_directory_until_a_full_sync(synced, directory):
    synced()
    sync_source(ALIAS)
    source = synced(CustomerUserSearchFields=["uid", "givenName", "sn", "mail", "departmentNumber"])
    assert not source.shadow.serving()
    assert sync_source(ALIAS).run.kind == "full"
    assert sources[ALIAS].shadow.serving()


@pytest.fixture
def administrator(django_user_model):
    from django.contrib.auth.models import Group

    from staff.roles import CUSTOMER_ADMINISTRATORS

    user = django_user_model.objects.create_user("admin", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=CUSTOMER_ADMINISTRATORS))
    return user


def test_the_api_lists_a_sources_runs_and_queues_one(synced, administrator, django_capture_on_commit_callbacks,
                                                      monkeypatch):  # fmt: skip
    from huey.contrib.djhuey import HUEY

    monkeypatch.setattr(HUEY, "immediate", True)  # the job runs in the caller, as a worker would run it
    synced()
    api = APIClient()
    api.force_authenticate(administrator)

    with django_capture_on_commit_callbacks(execute=True):
        queued = api.post(f"/api/v1/sources/{ALIAS}/sync-runs/", {"dry_run": True}, format="json")
    runs = api.get(f"/api/v1/sources/{ALIAS}/sync-runs/").json()["results"]

    assert (queued.status_code, queued.json()) == (202, {"queued": True, "source": ALIAS, "dry_run": True})
    assert [(r["kind"], r["status"], r["counts"]["added"]) for r in runs] == [("full", "dry-run", PEOPLE)]
    refused = api.post(f"/api/v1/sources/{ALIAS}/sync-runs/", {"full": "yes"}, format="json")
    assert (refused.status_code, list(refused.json()["fields"])) == (400, ["full"])
    assert "'yes'" in refused.json()["fields"]["full"][0]
    not_synced = api.get("/api/v1/sources/CustomerUser/sync-runs/")
    assert (not_synced.status_code, not_synced.json()["error"]) == (400, "sync.not_configured")


def test_health_and_the_runs_screen_say_when_a_sync_failed(synced, directory, administrator, client):
    synced()
    assert sync_source(ALIAS).ok
    assert client.get("/health/").json()["sources"][1]["sync"]["problem"] == ""
    directory.stop()

    failed = sync_source(ALIAS)

    assert (failed.ok, failed.run.status) == (False, "failed")
    health = client.get("/health/").json()
    assert (health["status"], health["sources"][1]["sync"]["problem"]) == ("degraded", "last sync failed")
    client.force_login(administrator)
    page = client.get(f"/admin/sources/{ALIAS}/sync-runs/")
    assert page.status_code == 200
    assert [run.status for run in page.context["runs"]] == ["failed", "succeeded"]
    assert "Queue the run" in page.content.decode()
    with pytest.raises(CommandError, match="failed"):
        call_command("sync_source", ALIAS, verbosity=0)


def test_a_prefix_search_of_the_shadow_is_exact_when_its_first_values_are_not_listed(synced):
    synced()
    sync_source(ALIAS)
    kept = ["p100", "p101", "p102"]
    ShadowEntry.objects.filter(source=ALIAS).exclude(login__in=kept).update(
        listed=False
    )  # searches skip them

    found = sources[ALIAS].search(SearchQuery(term="p*", limit=10))

    assert ([r.login for r in found.records], found.has_more) == (kept, False)


@pytest.mark.parametrize(("preset", "values", "disabled"), [
    ("openldap-ppolicy", ["000001010000Z"], True), ("openldap-ppolicy", [], False),
    ("389ds", ["TRUE"], True), ("389ds", ["true"], True), ("389ds", ["FALSE"], False), ("389ds", [], False),
    ("ad", ["514"], True), ("ad", ["66050"], True), ("ad", ["512"], False), ("ad", ["66048"], False),
])  # fmt: skip
def test_each_disabled_preset_reads_its_directorys_flag(preset, values, disabled):
    from backends.ldap.lifecycle import PRESETS

    assert bool(PRESETS[preset].reason(values)) is disabled


@pytest.mark.parametrize(("overrides", "path"), [
    ({"DisabledPreset": "openldap"}, "['DisabledPreset']"),
    ({"SyncSchedule": "every night"}, "['SyncSchedule']"),
    ({"SyncIncrementalSchedule": "61 * * * *"}, "['SyncIncrementalSchedule']"),
    ({"SyncGuardPercent": 150}, "['SyncGuardPercent']"),
    ({"IdentityAttribute": ""}, "['IdentityAttribute']"),
    ({"Sync": "yes"}, "['Sync']"),
])  # fmt: skip
def test_a_wrong_sync_key_is_named_by_the_configuration_check(ldap_source_settings, overrides, path):
    from backends.config import validate_source_config

    problems = validate_source_config(ALIAS, ldap_source_settings(**overrides))

    assert [(p.path, p.check_id) for p in problems] == [(path, "backends.E045")]


def test_a_database_source_is_not_synced(db_source_settings):
    from backends.config import validate_source_config

    problems = validate_source_config("CustomerUser", db_source_settings(Sync=True))

    assert [(p.path, p.check_id) for p in problems] == [("['Sync']", "backends.E045")]


def test_a_listing_of_the_shadow_pages_by_login(synced):
    synced()
    sync_source(ALIAS)
    source = sources[ALIAS]

    pages = [[r.login for r in source.search(SearchQuery(term="*", limit=n)).records] for n in (10, 20)]

    assert pages[0] == [f"p{n:03d}" for n in range(10)]
    assert pages[1][:10] == pages[0]


def test_the_shadow_keeps_groupdn_and_postmaster_wildcards_as_the_directory_does(synced, directory):
    """R75 (only GroupDN's memberUid logins are searched) and R73 (`*` in a postmaster look-up) from the shadow."""
    group_dn = f"cn=helpdesk-users,{OTHER_DN}"
    directory.ldapadd(
        f"dn: {group_dn}\nobjectClass: posixGroup\ncn: helpdesk-users\ngidNumber: 5000\n"
        + "".join(f"memberUid: p{n:03d}\n" for n in (1, 3, 5, 7, 41))
    )
    source = synced(Params={"Host": directory.ldap_uri, "BaseDN": PEOPLE_DN.split(",", 1)[1], "SSCOPE": "sub",
                            "UserDN": SERVICE_DN, "UserPw": SERVICE_PW, "GroupDN": group_dn,
                            "AlwaysFilter": "(objectClass=inetOrgPerson)"})  # fmt: skip
    queries = [SearchQuery(term="p00*"), SearchQuery(term="anna"), SearchQuery(postmaster="p00*@example.org"),
               SearchQuery(postmaster="P005@EXAMPLE.ORG")]  # fmt: skip
    live = [[r.login for r in source.search(query).records] for query in queries]

    sync_source(ALIAS)
    directory.stop()  # only the shadow can answer now

    shadow = sources[ALIAS]
    assert [[r.login for r in shadow.search(query).records] for query in queries] == live
    assert live[0] == ["p001", "p003", "p005", "p007"]  # the group's members only
    assert live[2] == ["p001", "p003", "p005", "p007"]
