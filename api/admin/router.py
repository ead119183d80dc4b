"""Admin access to the audit log (streamed export, verification, checkpoints) and to the
organisation profile printed on referral drafts.

These routes live here, not in ``api/audit``: every feature (auth included) writes the
audit trail, so audit sits below all of them and may not import auth's ``AdminOnly``.
The staff HTTP surface over it sits above auth instead. Same URLs as before.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from api.audit import actions, export
from api.audit.service import checkpoint, record, verify_chain
from api.audit.shipping import ShippedCheckpointsUnavailable, shipped_anchors, status
from api.auth.dependencies import AdminOnly
from api.cases.referrals import profile
from api.cases.referrals.profile import ProfileIn, ProfileNotSet, ProfileOut
from api.core.dependencies import Config, DbEngine, DbSession, Now
from api.core.errors import Forbidden, Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/admin/audit")
TAGS: list[str | Enum] = ["admin: audit"]
# The organisation profile printed on referral drafts; the profile itself (table, rules,
# audit) belongs to the referrals (api/cases/referrals/profile.py).
profile_router = APIRouter(prefix="/api/v1/admin/organisation-profile")
PROFILE_TAGS: list[str | Enum] = ["admin: organisation profile"]


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None
    first_bad_id: uuid.UUID | None
    reason: str | None
    anchors_matched: int
    message: str


class ShippingTargetOut(BaseModel):
    target: str
    last_seq: int | None
    last_shipped_at: datetime | None
    behind: bool


class ShippingOut(BaseModel):
    head_seq: int
    interval_minutes: int
    targets: list[ShippingTargetOut]
    message: str


class CheckpointOut(BaseModel):
    seq: int
    entry_hash: str
    created_at: datetime


@router.get("/export", tags=TAGS, responses=error_responses(Unauthorized, Forbidden),
            response_class=StreamingResponse)
def export_log(engine: DbEngine, me: AdminOnly, session: DbSession, now: Now,
               format: Literal["csv", "json"] = Query("json")) -> StreamingResponse:
    """Download the whole audit log (streamed). The export itself is audited."""
    out = export.download(session, engine, format, actor_id=me.user_id, now=now)
    return StreamingResponse(
        out.body, media_type=out.media_type,
        headers={"Content-Disposition": f'attachment; filename="{out.filename}"',
                 "Cache-Control": "no-store"},
    )


@router.get("/verify", tags=TAGS, response_model=VerifyOut,
            responses=error_responses(Unauthorized, Forbidden, ShippedCheckpointsUnavailable))
def verify(me: AdminOnly, session: DbSession, settings: Config) -> VerifyOut:
    """Check the whole hash chain, and against every checkpoint shipped to the bucket;
    names the first entry that no longer matches."""
    # An unreadable bucket is a 503, never an "ok": the shipped copies are the point.
    anchors = shipped_anchors(settings)
    result = verify_chain(session, anchors=anchors,
                          max_unchained_age=settings.audit_chain_max_age_seconds)
    return VerifyOut(ok=result.ok, checked=result.checked, head_seq=result.head_seq,
                     head_hash=result.head_hash, first_bad_seq=result.first_bad_seq,
                     first_bad_id=result.first_bad_id, reason=result.reason,
                     anchors_matched=result.anchors_matched, message=result.describe())


@router.get("/shipping", tags=TAGS, response_model=ShippingOut,
            responses=error_responses(Unauthorized, Forbidden))
def shipping_status(me: AdminOnly, session: DbSession, settings: Config, now: Now
                    ) -> ShippingOut:
    """Which checkpoint each off-server target last took; ``behind`` means shipping is
    failing (see the dead jobs) or no worker runs. No target: nothing leaves the server."""
    head_seq, targets = status(session, settings, now)
    if not targets:
        message = "no shipping target is configured: checkpoints do not leave the server"
    elif any(t.behind for t in targets):
        message = "shipping is behind: " + ", ".join(t.target for t in targets if t.behind)
    else:
        message = "checkpoints are being shipped"
    return ShippingOut(
        head_seq=head_seq, interval_minutes=settings.audit_ship_interval_minutes,
        targets=[ShippingTargetOut(target=t.target, last_seq=t.last_seq,
                                   last_shipped_at=t.last_shipped_at, behind=t.behind)
                 for t in targets],
        message=message,
    )


@router.post("/checkpoints", tags=TAGS, response_model=CheckpointOut, status_code=201,
             responses=error_responses(Unauthorized, Forbidden))
def make_checkpoint(me: AdminOnly, session: DbSession, now: Now) -> CheckpointOut:
    """Record the current chain head. Keep a copy off the server too."""
    record(session, action=actions.AUDIT_CHECKPOINT, actor_id=me.user_id, now=now)
    cp = checkpoint(session)
    return CheckpointOut(seq=cp.seq, entry_hash=cp.entry_hash, created_at=cp.created_at)


@profile_router.get("", tags=PROFILE_TAGS, response_model=ProfileOut,
                    responses=error_responses(Unauthorized, Forbidden, ProfileNotSet))
def read_profile(me: AdminOnly, session: DbSession) -> ProfileOut:
    """The profile the referral drafts print as the submitting organisation."""
    return ProfileOut.model_validate(profile.require(session), from_attributes=True)


@profile_router.put("", tags=PROFILE_TAGS, response_model=ProfileOut,
                    responses=error_responses(Unauthorized, Forbidden))
def put_profile(body: ProfileIn, me: AdminOnly, session: DbSession) -> ProfileOut:
    """Set the submitting organisation's name, contact and whether the source asks for
    confidentiality (audited)."""
    row = profile.put(session, me.user_id, body)
    return ProfileOut.model_validate(row, from_attributes=True)
