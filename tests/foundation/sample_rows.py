"""One plausible row per table, used by the migration tests (up/down with data).

The core tables are below; each feature adds its own tables in
``tests/<feature>/sample_rows.py`` (a ``rows()`` generator), listed in FEATURE_MODULES in
foreign-key order. ``test_every_table_has_a_sample_row`` fails when a table is missing.
"""

from __future__ import annotations

import importlib
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


def table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


FEATURE_MODULES = [
    "tests.auth.sample_rows",
    "tests.intake.sample_rows",
    "tests.cases.sample_rows",
    "tests.jobs.sample_rows",
    "tests.stats.sample_rows",
]


def sample_rows() -> Iterator[tuple[Table, dict[str, Any]]]:
    yield from core_rows()
    for name in FEATURE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name in (name, name.rsplit(".", 1)[0]):
                continue  # that feature has no tables of its own yet
            raise
        yield from module.rows()


def core_rows() -> Iterator[tuple[Table, dict[str, Any]]]:
    yield table("organisation_key"), {
        "id": IDS["org_key"], "purpose": "recovery", "public_key": b"\x01" * 32,
        "fingerprint": "abcd", "created_at": NOW,
    }
    yield table("staff_user"), {
        "id": IDS["user"], "username": "caseworker1", "role": "caseworker",
        "password_hash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        "public_key": b"\x02" * 32,
        "sealed_private_key": b"\x01sealed", "on_intake_duty": True, "created_at": NOW,
    }
    yield table("cases"), {
        "id": IDS["case"], "reference": "DKZ-TEST-0001", "state": "new", "priority": "normal",
        "urgent": False, "urgency_reasons": "", "region": "BY-HM", "received_on": NOW.date(),
        "version": 1, "state_changed_at": NOW, "created_at": NOW, "updated_at": NOW,
    }
    yield table("case_key_wrap"), {
        "id": uuid.uuid4(), "case_id": IDS["case"], "recipient_kind": "staff",
        "recipient_id": IDS["user"], "wrapped_key": b"\x01wrap", "created_at": NOW,
    }
    yield table("submission"), {
        "id": IDS["submission"], "case_id": IDS["case"], "received_on": NOW.date(),
        "channel": "web", "submitter_role": "relative", "categories": "detention",
        "language": "be", "consent_scopes": "internal_handling", "is_followup": False,
        "payload": b"\x01payload", "schema_version": 1, "thread_id": IDS["submission"],
        "key_case_id": IDS["case"],
    }
    yield table("attachment"), {
        "id": IDS["blob"], "case_id": IDS["case"], "submission_id": IDS["submission"],
        "blob_name": "b/" + "0" * 32, "wrapped_file_key": b"\x01k", "sealed_metadata": b"\x01m",
        "ciphertext_size": 123, "kind": "original", "created_at": NOW,
        "key_case_id": IDS["case"],
    }
    yield table("receipt"), {
        "id": uuid.uuid4(), "case_id": IDS["case"], "submission_id": IDS["submission"],
        "lookup": "ABCD1234",
        "verifier": b"\x01v", "failed_attempts": 0, "created_at": NOW,
    }
    yield table("case_message"), {
        "id": uuid.uuid4(), "case_id": IDS["case"], "submission_id": IDS["submission"],
        "key_case_id": IDS["case"], "direction": "to_submitter",
        "author_id": IDS["user"], "body": b"\x01body", "created_at": NOW,
    }
