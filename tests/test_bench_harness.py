"""`make bench` works end to end, on a tiny data set (the benchmark itself is not a timed test)."""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.skipif(not os.environ.get("HELPDESK_PG_URL"), reason="needs the throwaway PostgreSQL cluster")
def test_the_scale_benchmark_runs_on_a_tiny_data_set(tmp_path):
    finished = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--sizes", "150,300", "--runs", "3", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "DJANGO_DEBUG": ""},
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert {r["size"] for r in results} == {150, 300}
    assert {"prefix search (mül*)", "data get by login", "DB + LDAP search"} <= {
        r["operation"] for r in results
    }
    assert (tmp_path / "latency.png").read_bytes()[:4] == b"\x89PNG"
    assert "prefix search (mül*)" in finished.stdout
