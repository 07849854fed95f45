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
    keys = ["search_prefix", "search_infix", "search_screen", "search_unaccented", "search_rare", "search_miss", "search_postmaster", "data_get",
            "customer_ids", "permission_matrix", "count_valid", "search_db_ldap"]  # fmt: skip
    for size in (150, 300):
        assert [r["key"] for r in results if r["size"] == size] == keys
    for row in results:
        assert {"key", "size", "rows", "runs", "median_ms", "p95_ms", "floor_p95_ms"} <= row.keys()
        assert row["runs"] == 3
        assert row["p95_ms"] > 0
        assert row["floor_p95_ms"] > 0
        assert row["rows"] == (250 if row["key"].startswith("search_") else 1)
    prefix = next(r for r in results if r["key"] == "search_prefix" and r["size"] == 300)
    assert prefix["rows_returned_median"] > 0  # the searches find what the data holds
    unaccented = next(r for r in results if r["key"] == "search_unaccented" and r["size"] == 300)
    assert unaccented["rows_returned_median"] > 0  # `woj` finds Wójcik
    assert (tmp_path / "latency.png").read_bytes()[:4] == b"\x89PNG"
    assert "prefix search (mül*)" in finished.stdout
    assert "floor" in finished.stdout
