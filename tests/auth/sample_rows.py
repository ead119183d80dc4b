"""Sample rows for the tables of accounts, audit and partners (migration up/down tests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Table

from tests.foundation.sample_rows import IDS, NOW, table


def rows() -> Iterator[tuple[Table, dict[str, Any]]]:
    yield table("staff_session"), {
        "id": IDS["session"], "user_id": IDS["user"], "token_hash": b"\x03" * 32,
        "session_key": b"\x01blob", "created_at": NOW, "last_seen_at": NOW, "expires_at": NOW,
    }
    yield table("pending_change"), {
        "id": uuid.uuid4(), "kind": "case_grant", "target_id": IDS["user"],
        "case_id": IDS["case"], "requested_by_id": IDS["user"], "requested_on": NOW.date(),
        "status": "pending",
    }
    yield table("login_throttle"), {"key": "a" * 64, "last_failure_at": NOW, "failures": 1}
    yield table("audit_log"), {
        "id": uuid.uuid4(), "seq": 1, "created_at": NOW, "action": "auth.login",
        "actor_kind": "staff", "actor_id": IDS["user"], "details": "{}",
        "prev_hash": "0" * 64, "entry_hash": "f" * 64,
    }
    yield table("audit_chain_head"), {"id": 1, "seq": 1, "entry_hash": "f" * 64}
    yield table("audit_checkpoint"), {
        "id": uuid.uuid4(), "seq": 1, "entry_hash": "f" * 64, "created_at": NOW,
    }
    yield table("audit_shipment"), {
        "id": uuid.uuid4(), "target": "s3", "seq": 1, "entry_hash": "f" * 64, "shipped_at": NOW,
    }
    yield table("partner"), {"id": IDS["partner"], "name": "Partner NGO", "created_at": NOW}
    yield table("partner_api_key"), {
        "id": uuid.uuid4(), "partner_id": IDS["partner"], "name": "stats", "prefix": "dkp_abcd",
        "key_hash": b"\x04" * 32, "scopes": "stats:read", "created_at": NOW,
    }
