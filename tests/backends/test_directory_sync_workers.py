"""The sync as it runs in production: `manage.py sync_source` processes on the one database, killed with
SIGKILL half-way and started twice at once, and the job engine's worker (huey's `run_huey`) running a
queued sync."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w
from django.conf import settings as django_settings

from backends.models import ShadowEntry, SyncRun, SyncState
from core.models import HistoryEntry
from tests.ldap_server import SyncDirectoryServer, person

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.ldap]

ROOT = Path(__file__).resolve().parents[2]
ALIAS = "CustomerUser1"
PEOPLE = 3000


@pytest.fixture(scope="module")
def directory():
    server = SyncDirectoryServer()
    server.start()
    server.load(
        "\n".join(person(f"w{n:04d}", "Wim", f"Worker{n:04d}", customer_id="W") for n in range(PEOPLE))
    )
    yield server
    server.stop()


@pytest.fixture
def environment(directory, ldap_source_settings, db_source_settings, tmp_path):
    """The settings of a separate process: this test's database, the synced source in a TOML file."""
    if not os.environ.get("HELPDESK_PG_URL"):
        pytest.skip("processes share the test database on PostgreSQL (make test-postgresql)")
    source = ldap_source_settings({"Host": directory.ldap_uri}, Sync=True)
    config = tmp_path / "helpdesk.toml"
    config.write_text(tomli_w.dumps({"CustomerUser": db_source_settings(), ALIAS: source}), encoding="utf-8")
    database = django_settings.DATABASES["default"]["NAME"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HELPDESK_"))}
    env.update(
        DATABASE_URL=f"{os.environ['HELPDESK_PG_URL']}/{database}", HELPDESK_CONFIG=str(config),
        DJANGO_DEBUG="1", DJANGO_SETTINGS_MODULE="helpdesk.settings", HELPDESK_VAR_DIR=str(tmp_path),
        HELPDESK_SYNC_BATCH="50", HELPDESK_SYNC_LEASE_SECONDS="600",
    )  # fmt: skip
    return env


def sync(env, *args, **popen):
    return subprocess.Popen([sys.executable, "manage.py", "sync_source", ALIAS, "-v0", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)  # fmt: skip


def table():
    return sorted(ShadowEntry.objects.filter(source=ALIAS).values_list(
        "identity", "dn", "login", "attributes", "search_key", "valid_id", "listed", "present", "digest"
    ))  # fmt: skip


def test_a_run_killed_half_way_is_resumed_by_the_next_and_leaves_the_same_tables(environment, directory):
    worker = sync(environment, "--full")
    while ShadowEntry.objects.filter(source=ALIAS).count() < 100:  # some batches are written
        assert worker.poll() is None, worker.communicate()
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    written = ShadowEntry.objects.filter(source=ALIAS).count()
    assert 0 < written < PEOPLE

    resumed = sync(environment)
    assert resumed.wait(120) == 0, resumed.communicate()
    after_crash = table()
    runs = list(SyncRun.objects.order_by("id").values_list("status", flat=True))
    added = HistoryEntry.objects.filter(action="customer_user.synced", detail__change="added").count()
    ShadowEntry.objects.all().delete()
    SyncState.objects.all().delete()
    clean = sync(environment, "--full")
    assert clean.wait(120) == 0, clean.communicate()

    assert (len(after_crash), after_crash == table()) == (PEOPLE, True)
    assert runs == ["failed", "succeeded"]  # the killed run is closed as interrupted by the next one
    assert added == PEOPLE  # one history entry per person: the resumed run added only what was left


def test_two_workers_started_together_one_runs_one_skips(environment):
    first, second = sync(environment, "--full"), sync(environment, "--full")
    outputs = [(p.wait(120), p.communicate()[0]) for p in (first, second)]

    assert sorted(code for code, _ in outputs) == [0, 0]
    assert sorted("Skipped" in out for _, out in outputs) == [False, True]
    assert SyncRun.objects.count() == 1


def test_the_job_engine_runs_a_queued_sync(environment, tmp_path):
    """huey's worker (`manage.py run_huey`) on the embedded SQLite queue picks up the job and runs it."""
    code = ("import django; django.setup(); from customers.tasks import sync_source_job; "
            f"sync_source_job({ALIAS!r}, full=True)")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], env=environment, cwd=ROOT, check=True)
    consumer = subprocess.Popen([sys.executable, "manage.py", "run_huey", "-w", "1"], env=environment, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not SyncRun.objects.filter(status="succeeded").exists():
            assert time.monotonic() < deadline, "the worker did not run the queued sync"
            time.sleep(0.2)
    finally:
        consumer.terminate()
        consumer.wait(10)
    assert ShadowEntry.objects.filter(source=ALIAS).count() == PEOPLE
