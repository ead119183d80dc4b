"""One plausible row per table, used by the migration tests (up/down with data).

Each feature adds its tables here in dependency order; the test
``test_every_table_has_a_sample_row`` fails when a table is missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlmodel import SQLModel

NOW = datetime(2026, 1, 1, tzinfo=UTC)
IDS = {name: uuid.UUID(int=i + 1) for i, name in enumerate(
    ["org_key", "user", "session", "partner", "case", "submission", "blob", "upload", "job"]
)}


def _t(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def sample_rows() -> Iterator[tuple[Table, dict[str, Any]]]:
    yield _t("organisation_key"), {
        "id": IDS["org_key"], "purpose": "recovery", "public_key": b"\x01" * 32,
        "fingerprint": "abcd", "created_at": NOW,
    }
