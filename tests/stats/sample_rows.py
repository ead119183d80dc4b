"""One plausible row per stats table, for the migration up/down tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Table

from tests.foundation.sample_rows import IDS, NOW, table

RELEASE = uuid.UUID(int=601)


def rows() -> Iterator[tuple[Table, dict[str, Any]]]:
    yield table("stats_release"), {
        "id": RELEASE, "created_at": NOW, "min_cell": 10, "first_month": "2020-01",
        "last_month": "2026-01",
    }
    yield table("stats_cell"), {
        "release_id": RELEASE, "table_id": "cases_by_state", "coord": "verified|BY-HM|2021-03",
        "count": 12, "suppressed": False, "primary": False,
    }
    yield table("stats_partner_policy"), {
        "partner_id": IDS["partner"], "mode": "dp", "epsilon_per_pull": 0.5,
        "epsilon_budget": 10.0, "period_started_at": NOW, "updated_at": NOW,
        "updated_by_id": IDS["user"],
    }
    yield table("stats_budget_entry"), {
        "id": uuid.UUID(int=602), "partner_id": IDS["partner"], "period_started_at": NOW,
        "table_id": "cases_by_state", "query_hash": "0" * 64, "release_id": RELEASE,
        "epsilon": 0.5, "answer": "[]", "created_at": NOW,
    }
