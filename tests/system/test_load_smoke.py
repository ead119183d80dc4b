"""The load benchmark's smoke run (``bench/load.py --smoke``): a few seconds of the mixed
workload against the documented deployment (PROXY protocol, two public and one staff
process, Redis) on PostgreSQL, with no errors and every operation
served at least once. The full run is a separate command (see bench/load.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.system import figures
from tests.system.live import ROOT, require_pg

pytestmark = pytest.mark.slow


def test_load_smoke() -> None:
    require_pg()
    proc = subprocess.run(
        [sys.executable, "bench/load.py", "--smoke", "--test-argon2", "--json"], cwd=ROOT,
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fig = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert fig["errors"] == 0, fig["error_samples"]
    assert all(op["ok"] > 0 for op in fig["operations"].values()), fig["operations"]
    # Each staff operation was also measured alone, and compared with the mixed load.
    assert all(op["ok"] > 0 for op in fig["alone"].values()), fig["alone"]
    assert set(fig["p95_ratio_mixed_vs_alone"]) == {"list", "edit", "pull"}
    assert fig["partner_keys"] == 1 and fig["argon2"] == "test" and fig["misses"] == []
    assert fig["server_rss_peak_mib"] > 0
    figures.record("load_smoke", throughput_per_s=fig["throughput_per_s"],
                   errors=fig["errors"], rss_mib=fig["server_rss_peak_mib"])
