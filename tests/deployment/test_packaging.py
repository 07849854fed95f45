"""`pip install .` (not editable) gives a working app: templates, static files and migrations travel in
the wheel. Measured on the landed code: the wheel had no templates and no static files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.deployment.conftest import ROOT

PROBE = """
import sys
import django
django.setup()
import helpdesk
assert helpdesk.__file__.startswith(sys.argv[1]), helpdesk.__file__
from django.template.loader import get_template
for name in ("portal/login.html", "admin/customers/customer_user_list.html", "error.html"):
    get_template(name)
from django.contrib.staticfiles import finders
for name in ("helpdesk/admin.css", "helpdesk/admin.js", "admin/css/base.css"):
    assert finders.find(name), name
print("ok")
"""


def test_the_wheel_holds_a_working_app(tmp_path):
    # Built from a copy without build artefacts: setuptools reuses ./build, whose stale modules (a file
    # moved since) would otherwise land in the wheel.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "var", "*.egg-info",
                                                                 "__pycache__", "node_modules"))  # fmt: skip
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q", "-w",
         str(tmp_path / "dist")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "templates/portal/login.html" in names
    assert "customers/static/helpdesk/admin.css" in names
    assert "core/migrations/0001_initial.py" in names
    assert any(name.startswith("tickets/migrations/0001") for name in names)

    target = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "instance"
    elsewhere.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "HELPDESK_", "DATABASE_URL"))},
        "PYTHONPATH": str(target), "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "DJANGO_SECRET_KEY": "wheel",
        "DJANGO_DEBUG": "1",
    }  # fmt: skip
    run = {"cwd": elsewhere, "env": env, "capture_output": True, "text": True, "check": False}
    probe = subprocess.run([sys.executable, "-c", PROBE, str(target)], **run)
    assert probe.stdout.strip() == "ok", probe.stderr
    migrated = subprocess.run([sys.executable, "-m", "helpdesk.manage", "migrate", "-v0"], **run)
    assert migrated.returncode == 0, migrated.stderr
    assert Path(elsewhere / "var" / "db.sqlite3").exists()  # the instance's data, not in site-packages
