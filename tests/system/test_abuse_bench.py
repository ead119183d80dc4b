"""The abuse benchmark's smoke run (``bench/abuse.py --smoke``): a few seconds of attacker
circuits against two ``dokaz serve`` processes behind PROXY protocol, on PostgreSQL and
Redis, while genuine circuits submit, follow up and sign in. It must meet its targets
(every genuine operation succeeds, nothing accepted beyond its budget; the latency ratio
needs the full run) and print every figure line. The full run is a separate command (see
bench/abuse.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from redis import Redis
from redis.exceptions import RedisError

from tests.conftest import REDIS_URL
from tests.system import figures
from tests.system.live import ROOT, require_pg

pytestmark = pytest.mark.slow

FIGURE_LINES = ("Abuse over Tor:", "budgets:", "overall", "genuine: ",
                "submissions accepted on one circuit", "server api0 (pid",
                "server api1 (pid", "peak open fds", "PASS: genuine success 100 %",
                "PASS: attackers within their budgets")


def require_redis() -> None:
    try:
        Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except RedisError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")


def test_abuse_smoke_meets_its_targets_and_prints_its_figures() -> None:
    require_pg()
    require_redis()
    proc = subprocess.run([sys.executable, "bench/abuse.py", "--smoke", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-6000:]
    for line in FIGURE_LINES:  # the report, on stderr with --json
        assert line in proc.stderr, (line, proc.stderr[-6000:])
    fig = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert fig["pass"] is True
    assert fig["genuine_total"] > 0 and fig["attackers_sent"] > 0, fig
    assert fig["genuine_success_pct"] == 100.0, fig["genuine_failures"]
    assert fig["server_rss_peak_mib"] > 0 and fig["server_fds_peak"] > 0
    figures.record("abuse_smoke", genuine_success_pct=fig["genuine_success_pct"],
                   attackers_sent=fig["attackers_sent"], rss_mib=fig["server_rss_peak_mib"],
                   fds=fig["server_fds_peak"])
