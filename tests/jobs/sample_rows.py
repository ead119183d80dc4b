"""One row per table of the jobs feature, for the migration up/down tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Table

from tests.foundation.sample_rows import IDS, NOW, table


def rows() -> Iterator[tuple[Table, dict[str, Any]]]:
    yield table("job"), {
        "id": IDS["job"], "kind": "shred_case", "payload": {"case_id": str(IDS["case"])},
        "status": "queued", "attempts": 0, "max_attempts": 8, "run_at": NOW,
        "dedupe_key": "shred:" + str(IDS["case"]), "created_at": NOW,
    }
    yield table("notification_subscription"), {
        "id": uuid.uuid4(), "staff_user_id": IDS["user"], "email": "duty@example.org",
        "digest_interval_minutes": 60, "active": True, "last_digest_at": NOW, "created_at": NOW,
    }
