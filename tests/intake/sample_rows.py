"""Sample rows for the tables the intake feature adds (upload, segments, follow-up)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import Table

from tests.foundation.sample_rows import IDS, NOW, table

RECEIPT_ID = uuid.UUID(int=0x1A7E)


def rows() -> Iterator[tuple[Table, dict[str, Any]]]:
    yield table("upload"), {
        "id": IDS["upload"], "secret_hash": b"\x03" * 32, "sealed_progress": b"\x02progress",
        "patch_seq": 1,
        "state": "receiving", "sealed_metadata": b"\x01meta", "expires_at": NOW + timedelta(1),
        "created_at": NOW,
    }
    yield table("file_part"), {
        "id": uuid.uuid4(), "upload_id": IDS["upload"], "seq": 0,
        "blob_name": "s/" + "1" * 32, "sealed_part": b"\x01k", "ciphertext_size": 45,
    }
    yield table("receipt"), {
        "id": RECEIPT_ID, "case_id": IDS["case"], "submission_id": IDS["submission"],
        "lookup": "FUP00001",
        "verifier": b"\x01v", "failed_attempts": 0, "created_at": NOW,
    }
    yield table("followup_session"), {
        "id": uuid.uuid4(), "token_hash": b"\x04" * 32, "case_id": IDS["case"],
        "receipt_id": RECEIPT_ID, "sealed_case_key": b"\x01ck",
        "expires_at": NOW + timedelta(minutes=30), "created_at": NOW,
    }
    yield table("intake_replay"), {
        "lookup": "e" * 64, "sealed": b"\x01replay", "expires_at": NOW + timedelta(days=1),
    }
