"""The surge benchmark's smoke run (``bench/surge.py --smoke --json``): a few seconds of
caseworkers alone and then beside a few anonymous submitters, on ``dokaz serve`` with
public and staff process groups, PostgreSQL, Redis and production Argon2. It must exit 0
(no errors) and print every figure, in its report and its JSON; the timing targets need
the full run (see bench/surge.py) and are not judged here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.system.live import ROOT, require_pg
from tests.system.test_abuse_bench import require_redis

pytestmark = pytest.mark.slow

REPORT_LINES = ("Surge: 4 caseworkers", "alone-1   list", "surge-1   edit",
                "p99 ratio surge/alone: list", "receipt after last byte:", "errors 0",
                "PASS: errors == 0", "(smoke: the timing targets")


def test_surge_smoke_exits_0_and_prints_its_figures() -> None:
    require_pg()
    require_redis()
    proc = subprocess.run([sys.executable, "bench/surge.py", "--smoke", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-6000:]
    for line in REPORT_LINES:  # the report, on stderr with --json
        assert line in proc.stderr, (line, proc.stderr[-6000:])
    fig = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert fig["pass"] is True and fig["smoke"] is True and fig["errors"] == 0
    assert set(fig["phases"]) == {"alone-1", "surge-1"}
    for phase in fig["phases"].values():
        assert all(phase["ops"][op]["n"] > 0 for op in ("list", "read", "edit")), phase
    assert fig["phases"]["surge-1"]["receipts"] and not fig["phases"]["alone-1"]["receipts"]
    assert fig["receipt_after_last_byte"]["n"] > 0
    assert set(fig["p99_ratio_surge_over_alone"]) == {"list", "edit"}
    # The timing targets are named only in a full run.
    assert set(fig["targets"]) == {"errors == 0", "staff operations measured in every phase",
                                   "receipts measured"}
