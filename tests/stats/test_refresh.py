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
