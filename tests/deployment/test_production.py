"""The README's production steps under gunicorn with DJANGO_DEBUG=0: styled screens, offline API docs,
`/health/`, clear 503s while PostgreSQL is down and recovery without a restart, a bounded number of
database connections."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.deployment.conftest import ROOT, STAFF_PASSWORD, Api, AppServer, app_environment, prepare


def _login_admin(server: AppServer) -> requests.Session:
    session = requests.Session()
    form = session.get(server.url("/admin/login/"))
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    done = session.post(
        server.url("/admin/login/?next=/admin/"),
        data={"username": "deploy", "password": STAFF_PASSWORD, "csrfmiddlewaretoken": csrf},
        headers={"Referer": server.url("/admin/login/")},
    )
    assert done.status_code == 200
    assert "/admin/logout/" in done.text
    return session


def test_static_files_health_and_a_database_outage(own_cluster, static_root, servers):
    env = app_environment(own_cluster.create_database("helpdesk"), DJANGO_STATIC_ROOT=str(static_root))
    token = prepare(env)
    server = AppServer(env)
    servers.append(server.start())
    api = Api([server], token)

    # Styled: the admin's and the panel's stylesheets and scripts are served, hashed, by the app.
    page = requests.get(server.url("/admin/login/")).text
    assets = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', page)
    assert assets
    assert all(re.search(r"\.[0-9a-f]{12}\.(css|js)$", asset) for asset in assets), assets
    for asset in assets:
        answer = requests.get(server.url(asset), headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200, asset
    panel = requests.get(server.url("/")).text
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', panel):
        assert requests.get(server.url(asset)).status_code == 200, asset
    admin = _login_admin(server)
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', admin.get(server.url("/admin/")).text):
        assert admin.get(server.url(asset)).status_code == 200, asset

    # The API docs load Swagger UI from the app, not from a CDN.
    docs = admin.get(server.url("/api/v1/docs/"))
    assert docs.status_code == 200
    scripts = re.findall(r'src="([^"]+)"', docs.text)
    assert scripts
    assert all(src.startswith("/static/") for src in scripts), scripts
    assert all(admin.get(server.url(src)).status_code == 200 for src in scripts)

    health = requests.get(server.url("/health/"))
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"]
    assert body["cache"] == {"ok": True, "ms": body["cache"]["ms"], "backend": "DatabaseCache"}
    assert [s["alias"] for s in body["sources"]] == ["CustomerUser"]
    assert body["sources"][0]["reachable"]
    assert "secret" not in health.text.lower()
    assert "postgres://" not in health.text

    panel = requests.Session()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', panel.get(server.url("/")).text).group(1)

    own_cluster.stop()
    try:
        down = api.request("GET", "/api/v1/customer-users/?search=a*")
        assert down.status_code == 503
        assert down.headers["Content-Type"] == "application/json"
        assert down.json()["error"] == "database.unavailable"
        assert set(down.json()) == {"error", "message", "fields"}
        assert "database" in down.json()["message"]
        assert requests.get(server.url("/health/")).status_code == 503
        assert requests.get(server.url("/health/")).json()["database"]["ok"] is False
        screen = admin.get(server.url("/admin/"))
        assert screen.status_code == 503
        assert "unavailable" in screen.text
        assert "Server Error (500)" not in screen.text
        login = panel.post(
            server.url("/"), data={"login": "anna", "password": "x", "csrfmiddlewaretoken": csrf},
            headers={"Referer": server.url("/")},
        )  # fmt: skip
        assert login.status_code == 503
        assert "unavailable" in login.text
    finally:
        own_cluster.start()

    deadline = time.monotonic() + 15
    while api.request("GET", "/api/v1/customer-users/?search=a*").status_code != 200:
        assert time.monotonic() < deadline, "the app did not recover by itself within 15 s"
        time.sleep(0.5)
    assert requests.get(server.url("/health/")).status_code == 200
    assert admin.get(server.url("/admin/")).status_code == 200


def test_many_parallel_requests_leave_a_bounded_number_of_connections(own_cluster, static_root, servers):
    """Two workers of four threads: at most 2 × 4 connections to the app's database, however many
    requests (the budget in the README: workers × threads, plus each source worker thread that runs)."""
    env = app_environment(own_cluster.create_database("helpdesk"), DJANGO_STATIC_ROOT=str(static_root))
    token = prepare(env)
    server = AppServer(env, workers=2, threads=4)
    servers.append(server.start())
    api = Api([server], token)
    paths = [
        "/api/v1/customer-users/?search=a*",
        "/api/v1/customer-users/nobody/",
        "/health/",
        "/admin/login/",
    ]
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda n: api.request("GET", paths[n % len(paths)]).status_code, range(400)))
    assert set(statuses) <= {200, 404}
    with own_cluster.connect("helpdesk") as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'helpdesk' AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] <= 2 * 4


def test_deployment_checks_speak_up_and_a_missing_collectstatic_is_named(own_cluster, servers, tmp_path):
    """Issue 34, point 7. Measured: `check --deploy` buried its real warnings under 24 drf_spectacular.W001;
    without collectstatic every page was a 500 "Missing staticfiles manifest entry" with no hint."""
    empty = tmp_path / "static"
    env = app_environment(own_cluster.create_database("helpdesk"), DJANGO_STATIC_ROOT=str(empty))
    prepare(env)
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)  # fmt: skip
    said = done.stdout + done.stderr
    assert "drf_spectacular" not in said
    assert "(core.W002) The static files are not collected" in said
    log = tmp_path / "app.log"
    server = AppServer(env, log=log)
    servers.append(server.start())
    page = requests.get(server.url("/admin/login/"), timeout=30)
    assert page.status_code == 500
    assert "run `manage.py collectstatic --noinput`" in page.text
    assert (
        requests.get(server.url("/health/"), timeout=30).status_code == 200
    )  # what needs no static file works
    assert "The static files are not collected" in log.read_text()  # said at start-up
