"""`import_customer_users` killed with SIGKILL at several points and resumed with `--resume`, as an
operator would after a crash: in the end every good row is written once and every bad row is reported
once, in one report for the whole file, and no resumed run reports a row an earlier run wrote."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

from tests.deployment.conftest import ROOT, app_environment, manage, new_app_database

ROWS = 24_000
BATCH = 1000
HEADER = ["UserLogin", "UserFirstname", "UserLastname", "UserEmail", "UserCustomerID", "ValidID"]


def write_file(path: Path) -> tuple[set[str], set[int]]:
    """A CSV of ROWS rows, one in 48 bad in one of four ways: the good logins and the bad lines."""
    good, bad = set(), set()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(ROWS):
            line = n + 2
            login = f"kill{n:06d}"
            row = [login, "K", "Ill", f"{login}@example.com", "ACME", "1"]
            if n % 48 == 7:
                kind = (n // 48) % 4
                if kind == 0:
                    row[3] = "not-an-address"
                elif kind == 1:
                    row[4] = "NOBODY"
                elif kind == 2:
                    row[1] = ""
                else:
                    row.append("one column too many")
                bad.add(line)
            else:
                good.add(login)
            writer.writerow(row)
    return good, bad


def start_import(env: dict[str, str], path: Path, *, resume: bool) -> subprocess.Popen:
    args = [
        sys.executable,
        "manage.py",
        "import_customer_users",
        str(path),
        "-v0",
        "--batch-size",
        str(BATCH),
    ]
    return subprocess.Popen(
        [*args, *(["--resume"] if resume else [])],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def kill_when(process: subprocess.Popen, progress: Path, seen, then: float = 0.0) -> bool:
    """SIGKILL the import `then` seconds after `seen(progress file's text)` holds; False if it finished
    first."""
    while process.poll() is None:
        try:
            text = progress.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        if text and seen(text):
            time.sleep(then)
            process.send_signal(signal.SIGKILL)
            process.wait(30)
            return True
        time.sleep(0.0005)
    return False


def test_a_killed_import_resumes_exactly(tmp_path, session_cluster_url):
    url = new_app_database(session_cluster_url)
    env = app_environment(url, HELPDESK_VAR_DIR=str(tmp_path / "var"))
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "shell", "-c", "from customers.models import Customer; Customer.objects.create(customer_id='ACME', name='Acme')")  # fmt: skip
    path = tmp_path / "users.csv"
    good, bad = write_file(path)
    progress = path.with_name("users.csv.progress")

    def past(line: int):
        return lambda text: json.loads(text)["line"] > line

    def pending(text: str) -> bool:
        return '"pending"' in text

    kills = [  # the points where each run is killed
        ("at the first commit", lambda p: kill_when(p, progress, lambda text: True)),
        ("with a batch pending", lambda p: kill_when(p, progress, pending)),
        ("mid-batch, a third of the way", lambda p: kill_when(p, progress, past(ROWS // 3), then=0.03)),
        ("with a batch pending", lambda p: kill_when(p, progress, pending)),
        ("between batches, two thirds of the way", lambda p: kill_when(p, progress, past(2 * ROWS // 3))),
    ]
    killed, lines_reached = [], []
    for number, (point, kill) in enumerate(kills):
        if not kill(start_import(env, path, resume=number > 0)):
            break
        state = json.loads(progress.read_text())
        killed.append(point + (" (was pending)" if "pending" in state else ""))
        lines_reached.append(state["line"])
    print("killed", killed, "after lines", lines_reached)
    assert len(killed) >= 4, f"the import finished before it could be killed often enough: {killed}"
    assert lines_reached == sorted(lines_reached), "a resumed run went back"

    if len(killed) == len(kills):
        finish = start_import(env, path, resume=True)
        _, err = finish.communicate(timeout=300)
        assert finish.returncode == 1, err  # rows with errors: exit status 1
        assert f"{len(bad)} rows were not imported" in err
    assert not progress.exists()

    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT login, count(*) FROM customer_user WHERE login LIKE 'kill%%' GROUP BY login")
        written = dict(cursor.fetchall())
    assert set(written) == good, "every good row is written"
    assert set(written.values()) == {1}, "and once"

    with path.with_name("users.csv.errors.csv").open(encoding="utf-8", newline="") as handle:
        report = list(csv.DictReader(handle))
    reported = [int(row["line"]) for row in report]
    assert set(reported) == bad, "every bad row is reported, and no good one"
    assert len(reported) == len(set(reported)), "each bad row once (each has one error)"
    assert reported == sorted(reported)
    assert not [row for row in report if row["field"] in ("UserLogin",) or "in use" in row["reason"]]
    os.remove(path)
