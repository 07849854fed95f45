"""The app as it is deployed: gunicorn with several workers (and several instances) on a real PostgreSQL,
with the default shared cache or a real redis-server, production settings (DJANGO_DEBUG=0).

These tests talk HTTP to the servers they start; nothing runs in the test process but the client.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import tomli_w

from tests.stack import PostgresCluster, free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "deployment-test-only"
STAFF_PASSWORD = "Deploy-Staff-Pass-1"


def app_environment(database_url: str, **extra: str) -> dict[str, str]:
    """Production settings: DEBUG off, no cache configured (the default), the given database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CACHE_", "DJANGO_", "HELPDESK_"))}
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SECRET_KEY=SECRET,
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_COOKIES="0",
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class AppServer:
    """One app instance: gunicorn with `workers` processes of `threads` threads."""

    env: dict[str, str]
    workers: int = 2
    threads: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log: Path | None = None  # where its stderr goes (the app's log); None: the test's own

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> AppServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "helpdesk.wsgi:application", "--workers", str(self.workers),
             "--threads", str(self.threads), "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning",
             "--graceful-timeout", "2"],
            env=self.env, cwd=ROOT, start_new_session=True,
            stderr=self.log.open("a") if self.log is not None else None,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "gunicorn exited while starting"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError("gunicorn did not start within 60 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class Api:
    """A token-authenticated client of one or more app instances, a new connection for every request."""

    def __init__(self, servers: list[AppServer], token: str) -> None:
        self.servers, self.token, self._next = servers, token, 0

    def request(self, method: str, path: str, *, server: int | None = None, **kwargs) -> requests.Response:
        if server is None:
            server, self._next = self._next % len(self.servers), self._next + 1
        headers = {"Authorization": f"Token {self.token}", "Connection": "close", **kwargs.pop("headers", {})}
        return requests.request(method, self.servers[server].url(path), headers=headers, timeout=30, **kwargs)


def add_customer_user(api: Api, login: str, group: str) -> None:
    """Customer ACME, a group and one customer user of ACME, through the API: how the tests begin."""
    assert api.request(
        "POST", "/api/v1/customers/", json={"CustomerID": "ACME", "CustomerCompanyName": "Acme"}
    ).ok
    assert api.request("POST", "/api/v1/groups/", json={"name": group}).ok
    created = api.request("POST", "/api/v1/customer-users/", json={
        "UserLogin": login, "UserFirstname": login.title(), "UserLastname": "Alt",
        "UserEmail": f"{login}@example.com", "UserCustomerID": "ACME",
    })  # fmt: skip
    assert created.status_code == 201, created.text


@pytest.fixture(scope="session")
def static_root() -> Iterator[Path]:
    """The static files, collected once as the README's production steps do."""
    root = Path(tempfile.mkdtemp(prefix="helpdesk-static-"))
    manage(
        app_environment("sqlite:///:memory:", DJANGO_STATIC_ROOT=str(root)),
        "collectstatic",
        "--noinput",
        "-v0",
    )
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def session_cluster_url() -> str:
    url = os.environ.get("HELPDESK_PG_URL")
    if not url:
        pytest.fail(
            "run under `python -m tests.stack` (make test): deployment tests need the session's PostgreSQL"
        )
    return url


_databases = iter(range(1, 10_000))


def new_app_database(base_url: str) -> str:
    """A fresh database on the cluster at `base_url`, migrated, with a staff user `deploy` and a token."""
    name = f"deploy_{os.getpid()}_{next(_databases)}"
    subprocess.run(
        ["psql", base_url + "/postgres", "-q", "-c", f'CREATE DATABASE "{name}"'],
        check=True,
        capture_output=True,
    )
    return f"{base_url}/{name}"


def prepare(env: dict[str, str]) -> str:
    """Migrate the app's database and return a staff token (a superuser: the tests exercise the deployment)."""
    manage(env, "migrate", "--no-input", "-v0")
    return manage(
        env, "shell", "-c",
        "from django.contrib.auth.models import User; from rest_framework.authtoken.models import Token; "
        f"u = User.objects.create_superuser('deploy', 'deploy@example.com', {STAFF_PASSWORD!r}); "
        "print(Token.objects.create(user=u).key)",
    ).split()[-1]  # fmt: skip


@dataclass
class RedisServer:
    """A real redis-server (the Debian package) on a free loopback port; it can be stopped and started again
    on the same port (an outage)."""

    port: int = field(default_factory=free_port)
    workdir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="helpdesk-redis-"))
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if not binary:
            pytest.fail(
                "redis-server is not installed: `make test` installs it (apt-get install redis-server)"
            )
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.workdir],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                assert self.process.poll() is None, "redis-server exited while starting"
                assert time.monotonic() < deadline, "redis-server did not start within 20 s"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server for this session."""
    server = RedisServer().start()
    yield server.url
    server.remove()


@pytest.fixture
def own_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL of this test alone, which it may stop and start again."""
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.remove()


@pytest.fixture
def servers() -> Iterator[list[AppServer]]:
    """App servers a test starts; all are stopped afterwards."""
    started: list[AppServer] = []
    yield started
    for server in started:
        server.stop()


def write_config(path: Path, backends: dict) -> str:
    path.write_text(tomli_w.dumps(backends), encoding="utf-8")
    return str(path)
