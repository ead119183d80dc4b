"""Job kinds and their payloads: ids, enums and small integers, nothing else.

A job row is stored in plaintext and outlives the request that made it, so a payload must
never be able to hold protected content. Each kind has a pydantic model that forbids extra
keys and whose fields are only UUIDs, enums, booleans or bounded integers; free text is
not representable (``tests/jobs/test_payloads.py`` checks every registered model).
Handlers live in ``workers/jobs/<kind>.py``; this module is what the API side needs to
enqueue without importing the workers.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Empty(Payload):
    """Periodic jobs that look at the whole database take no arguments."""


class CaseRef(Payload):
    case_id: uuid.UUID


class NotificationTemplate(StrEnum):
    DIGEST = "digest"
    SLA = "sla"


class Notification(Payload):
    subscription_id: uuid.UUID
    template: NotificationTemplate
    new: int = Field(default=0, ge=0, le=1_000_000)
    urgent: int = Field(default=0, ge=0, le=1_000_000)
    overdue: int = Field(default=0, ge=0, le=1_000_000)
    # Coordinators only: two-person approvals since the last digest, and still waiting.
    approvals_requested: int = Field(default=0, ge=0, le=1_000_000)
    approvals_approved: int = Field(default=0, ge=0, le=1_000_000)
    approvals_rejected: int = Field(default=0, ge=0, le=1_000_000)
    approvals_expired: int = Field(default=0, ge=0, le=1_000_000)
    approvals_pending: int = Field(default=0, ge=0, le=1_000_000)


PAYLOADS: dict[str, type[Payload]] = {
    "plan_digests": Empty,
    "plan_sla_reminders": Empty,
    "send_notification": Notification,
    "plan_retention": Empty,
    "shred_case": CaseRef,
    "expire_uploads": Empty,
    "sweep_orphan_blobs": Empty,
    "audit_chain": Empty,
    "audit_checkpoint": Empty,
    "ship_audit_checkpoint": Empty,
    "refresh_stats": Empty,
    "prune_jobs": Empty,
    "expire_approvals": Empty,
    "purge_staff_sessions": Empty,
    "purge_login_throttle": Empty,
    "purge_intake_replays": Empty,
}


def register_kind(kind: str, model: type[Payload]) -> None:
    """Add a kind (used by tests to add probe jobs in a worker process)."""
    PAYLOADS[kind] = model


class UnknownJobKind(ValueError):
    pass


def validate(kind: str, payload: dict[str, Any] | Payload | None) -> dict[str, Any]:
    """Return the JSON form of a checked payload; raise on unknown kinds or free text."""
    model = PAYLOADS.get(kind)
    if model is None:
        raise UnknownJobKind(kind)
    if isinstance(payload, Payload):
        if not isinstance(payload, model):
            raise TypeError(f"payload for {kind} must be {model.__name__}")
        return payload.model_dump(mode="json")
    return model.model_validate(payload or {}).model_dump(mode="json")


def parse(kind: str, payload: dict[str, Any]) -> Payload:
    model = PAYLOADS.get(kind)
    if model is None:
        raise UnknownJobKind(kind)
    return model.model_validate(payload)
