"""Lockout, the client address and request rates as deployed (issue 33, points 3–5): two app instances of
two gunicorn workers each, behind nginx from Debian configured as `docs/deploy/nginx.conf` describes, with
clients on several loopback addresses and parallel bursts of real threads.

Measured on the landed code: behind nginx every client had nginx's address, so six requests with a made-up
token locked the whole staff side and the API out for 15 minutes; a parallel burst of wrong passwords got
6–8 checks through a limit of 5; at 30/minute 60 parallel token requests were all served; made-up
X-Forwarded-For headers escaped the anonymous rate; the panel's login had no limit per address.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.bursts import in_parallel
from tests.deployment.conftest import ROOT, AppServer, app_environment, manage, new_app_database, prepare
from tests.stack import free_port

USER_RATE, ANON_RATE, PANEL_RATE = 30, 10, 10
ACCOUNT_MAX, ADDRESS_MAX = 5, 20
PASSWORD = "Proxy-Staff-Pass-1"


class FromAddress(HTTPAdapter):
    """Connections from one loopback address (127.0.0.0/8 is ours): a client nginx sees as that address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def documented_location() -> str:
    """The `location / { … }` block of docs/deploy/nginx.conf, as written there."""
    text = (ROOT / "docs/deploy/nginx.conf").read_text()
    found = re.search(r"\n    location / \{\n.*?\n    \}\n", text, re.S)
    assert found, "docs/deploy/nginx.conf has no `location /` block"
    return found.group(0)


@dataclass
class Proxy:
    port: int
    process: subprocess.Popen
    workdir: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def start_nginx(upstreams: list[int]) -> Proxy:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert os.path.exists(binary), (
        "nginx is not installed: `make test` installs it (apt-get install nginx-light)"
    )
    workdir = Path(tempfile.mkdtemp(prefix="helpdesk-nginx-"))
    workdir.chmod(0o777)
    port = free_port()
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n" for p in upstreams)
    temp = "".join(
        f"{kind}_temp_path {workdir}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (workdir / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off;\nworker_processes 2;\npid {workdir}/nginx.pid;\nerror_log {workdir}/error.log warn;\n"
        "events { worker_connections 512; }\n"
        f"http {{\naccess_log off;\n{temp}upstream helpdesk {{\n{servers}    keepalive 32;\n}}\n"
        f"server {{\n    listen 127.0.0.1:{port};\n    server_name 127.0.0.1;\n    client_max_body_size 20m;\n"
        f"{documented_location()}}}\n}}\n"
    )
    process = subprocess.Popen([binary, "-c", str(workdir / "nginx.conf"), "-p", str(workdir)],
                               stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        assert process.poll() is None, f"nginx exited: {process.stderr.read().decode()}"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return Proxy(port, process, workdir)
        except OSError:
            assert time.monotonic() < deadline, "nginx did not start within 20 s"
            time.sleep(0.1)


@dataclass
class Stack:
    proxy: Proxy
    env: dict[str, str]
    tokens: dict[str, str]

    def session(self, address: str) -> requests.Session:
        session = requests.Session()
        session.mount("http://", FromAddress(address))
        return session

    def get(self, address: str, path: str, **kwargs) -> requests.Response:
        return self.session(address).get(self.proxy.url(path), timeout=60, **kwargs)


@pytest.fixture(scope="module")
def stack(session_cluster_url, static_root) -> Iterator[Stack]:
    env = app_environment(
        new_app_database(session_cluster_url), DJANGO_STATIC_ROOT=str(static_root), HELPDESK_TRUSTED_PROXIES="1",
        HELPDESK_API_USER_RATE=f"{USER_RATE}/minute", HELPDESK_API_ANON_RATE=f"{ANON_RATE}/minute",
        HELPDESK_PANEL_LOGIN_RATE=f"{PANEL_RATE}/minute", HELPDESK_STAFF_LOGIN_MAX_FAILED=str(ACCOUNT_MAX),
        HELPDESK_STAFF_ADDRESS_MAX_FAILED=str(ADDRESS_MAX),
    )  # fmt: skip
    tokens = {"deploy": prepare(env)}
    created = manage(env, "shell", "-c", (
        "from django.contrib.auth.models import User; from rest_framework.authtoken.models import Token\n"
        "for name in ('rated', 'victim', 'bystander', 'guessed'):\n"
        f"    u = User.objects.create_superuser(name, name + '@example.com', {PASSWORD!r})\n"
        "    print(name, Token.objects.create(user=u).key)"
    ))  # fmt: skip
    tokens |= dict(line.split() for line in created.splitlines() if line.startswith(("rated ", "victim ",
                   "bystander ", "guessed ")))  # fmt: skip
    servers = [AppServer(env).start(), AppServer(env).start()]
    proxy = start_nginx([server.port for server in servers])
    yield Stack(proxy, env, tokens)
    os.killpg(proxy.process.pid, signal.SIGTERM)
    proxy.process.wait(10)
    for server in servers:
        server.stop()
    shutil.rmtree(proxy.workdir, ignore_errors=True)


def test_parallel_token_requests_get_exactly_the_users_rate(stack):
    token = {"Authorization": f"Token {stack.tokens['rated']}"}
    statuses = in_parallel(
        2 * USER_RATE, lambda n: stack.get("127.0.0.2", "/api/v1/groups/", headers=token).status_code
    )
    assert (statuses.count(200), statuses.count(429)) == (USER_RATE, USER_RATE)


def test_made_up_forwarded_for_headers_do_not_escape_the_anonymous_rate(stack):
    statuses = [
        stack.get("127.0.0.3", "/api/v1/groups/", headers={"X-Forwarded-For": f"10.9.8.{n}"}).status_code
        for n in range(ANON_RATE + 5)
    ]
    assert statuses.count(429) == 5
    assert stack.get("127.0.0.4", "/api/v1/groups/").status_code == 401  # another client: its own rate


def test_wrong_tokens_lock_their_address_never_a_valid_token_or_another_address(stack):
    wrong = {"Authorization": "Token made-up-token-0000000000000000000000"}
    statuses = [
        stack.get("127.0.0.5", "/api/v1/groups/", headers=wrong).status_code for _ in range(ADDRESS_MAX + 3)
    ]
    assert statuses[-1] == 429  # the address is locked for wrong tokens
    valid = {"Authorization": f"Token {stack.tokens['deploy']}"}
    assert stack.get("127.0.0.5", "/api/v1/groups/", headers=valid).status_code == 200
    assert (
        stack.get("127.0.0.6", "/api/v1/groups/", headers=wrong).status_code == 401
    )  # nginx's address is not locked
    locked = manage(stack.env, "lift_login_lock", "--list")
    assert "127.0.0.5\tstaff address" in locked
    assert "127.0.0.1" not in locked


def test_a_parallel_guess_burst_checks_at_most_the_accounts_limit_and_locks_no_one_else(stack):
    statuses = in_parallel(
        20, lambda n: stack.get("127.0.0.7", "/api/v1/groups/", auth=("guessed", f"wrong-{n}")).status_code
    )
    assert statuses.count(401) <= ACCOUNT_MAX  # a 401 is a password checked and refused
    assert statuses.count(429) >= 20 - ACCOUNT_MAX
    assert stack.get("127.0.0.7", "/api/v1/groups/", auth=("bystander", PASSWORD)).status_code == 200
    session = stack.session("127.0.0.7")  # the admin's form, from the same address, for another person
    page = session.get(stack.proxy.url("/admin/login/"), timeout=30)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(stack.proxy.url("/admin/login/?next=/admin/"), timeout=30, allow_redirects=False,
                          data={"username": "victim", "password": PASSWORD, "csrfmiddlewaretoken": csrf})  # fmt: skip
    assert (answer.status_code, answer.headers.get("Location")) == (302, "/admin/")


def test_the_panel_login_has_a_rate_per_address(stack):
    def attempt(n: int) -> int:
        session = stack.session("127.0.0.8")
        page = session.get(stack.proxy.url("/"), timeout=30)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return session.post(stack.proxy.url("/"), timeout=60,
                            data={"login": f"spray{n}", "password": "Summer2026!", "csrfmiddlewaretoken": csrf}).status_code  # fmt: skip

    statuses = in_parallel(3 * PANEL_RATE, attempt)
    assert statuses.count(401) == PANEL_RATE
    assert statuses.count(429) == 2 * PANEL_RATE
