"""A refresh computes each contribution bound once, and reports where its time went."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session

from api.core.settings import Settings
from api.stats import service
from api.stats.catalogue import _PER_VICTIM_ACTS, TABLES
from tests.stats.conftest import add_victims


def test_a_refresh_shares_each_contribution_bound_between_its_tables(
    session: Session, stats_settings: Settings, engine: Engine,
) -> None:
    add_victims(session, 12, region="BY-HM", month="2021-03", disappeared="still_missing")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        timings: dict[str, float] = {}
        service.refresh(session, stats_settings, force=True, timings=timings)
        session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    sharing = [t for t in TABLES if t.bound_sql == _PER_VICTIM_ACTS]
    assert len(sharing) >= 2  # else there is nothing to share
    assert statements.count(_PER_VICTIM_ACTS) == 1
    assert set(timings) == {"count", "protect", "store"}
    assert all(v >= 0 for v in timings.values())


def test_refresh_inside_the_interval_says_it_refreshed_nothing_and_why(
    database: Any, settings: Settings, tmp_path: Any,
) -> None:
    """`dokaz stats refresh` within DOKAZ_STATS_RELEASE_INTERVAL_HOURS publishes nothing,
    and says so (it used to print the old release as if just published): which release
    stands, since when, the rule, when the next is due, and how to publish anyway."""
    import os
    import re
    import subprocess
    import sys
    from datetime import datetime, timedelta
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, DOKAZ_DATABASE_URL=database.url, DOKAZ_DATA_DIR=str(tmp_path),
               DOKAZ_KDF_PROFILE="fast-insecure-for-tests", DOKAZ_LOG_FORMAT="text",
               DOKAZ_STATS_RELEASE_INTERVAL_HOURS="168")

    def refresh(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "api", "stats", "refresh", *args],
                              env=env, cwd=root, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = refresh("--force")
    published = re.search(r"release ([0-9a-f-]{36}) published", first)
    assert published, first
    kept = refresh()
    assert "published" not in kept.replace("was published", "")
    assert kept.startswith(f"nothing refreshed: the latest release {published.group(1)} "
                           "was published ")
    assert "DOKAZ_STATS_RELEASE_INTERVAL_HOURS (168 h)" in kept
    assert "--force` publishes now" in kept
    stamps = re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC", kept)
    assert len(stamps) == 2
    when, due = (datetime.strptime(s, "%Y-%m-%d %H:%M") for s in stamps)
    assert due - when == timedelta(hours=168)
    assert re.fullmatch(r"release [0-9a-f-]{36} published .*\n", refresh("--force"), re.S)
