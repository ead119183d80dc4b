"""The queue's query parsing and its tab-count cache."""

from __future__ import annotations

import uuid

import pytest

from api.console import queue
from api.core.errors import InvalidInput


def test_parse_checks_every_choice_against_the_page_offers() -> None:
    asked = queue.parse({"tab": ["waiting"], "priority": ["high"], "sort": ["due"],
                         "order": ["asc"]})
    assert asked.tab.name == "waiting" and asked.sort == "due" and not asked.descending
    for bad in ({"tab": ["nope"]}, {"sort": ["secret"]}, {"state": ["lost"]},
                {"received_from": ["yesterday"]}, {"cursor": ["x" * 600]}):
        with pytest.raises(InvalidInput):
            queue.parse(bad)


def test_a_state_outside_the_tab_narrows_to_nothing_rather_than_widening() -> None:
    me = uuid.uuid4()
    asked = queue.parse({"tab": ["waiting"], "state": ["new"]})
    assert list(asked.filters(me).states) == ["-"]
    asked = queue.parse({"tab": ["all"], "state": ["new"]})
    assert list(asked.filters(me).states) == ["new"]


def test_counts_are_reused_for_their_ttl_and_forgotten_after_ones_own_change() -> None:
    calls: list[int] = []

    def compute() -> dict[str, int]:
        calls.append(1)
        return {"open": len(calls)}

    me, other = uuid.uuid4(), uuid.uuid4()
    counts = queue.TabCounts(ttl=60)
    assert counts.get((me,), compute) == {"open": 1}
    assert counts.get((me,), compute) == {"open": 1}
    assert counts.get((other,), compute) == {"open": 2}
    counts.forget(me)
    assert counts.get((me,), compute) == {"open": 3}
    assert counts.get((other,), compute) == {"open": 2}
    assert queue.TabCounts(ttl=0).get((me,), compute) == {"open": 4}


def test_the_count_cache_stays_bounded() -> None:
    counts = queue.TabCounts(ttl=60, max_entries=10)
    for _ in range(25):
        counts.get((uuid.uuid4(),), lambda: {"open": 0})
    assert len(counts._entries) <= 10
