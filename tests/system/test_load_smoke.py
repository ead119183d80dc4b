"""The load benchmark's smoke run (``bench/load.py --smoke``): a few seconds of the mixed
workload against two API processes on PostgreSQL, with no errors and every operation
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
    proc = subprocess.run([sys.executable, "bench/load.py", "--smoke", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fig = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert fig["errors"] == 0, fig["error_samples"]
    assert all(op["ok"] > 0 for op in fig["operations"].values()), fig["operations"]
    assert fig["server_rss_peak_mib"] > 0
    figures.record("load_smoke", throughput_per_s=fig["throughput_per_s"],
                   errors=fig["errors"], rss_mib=fig["server_rss_peak_mib"])
