"""Admin routes for the organisation profile printed on referral drafts.

The profile itself (table, rules, audit) belongs to the referrals
(:mod:`api.cases.referrals.profile`); this module is only its HTTP surface for admins.
"""

from __future__ import annotations

from enum import Enum

from fastapi import APIRouter

from api.auth.dependencies import AdminOnly
from api.cases.referrals import profile
from api.cases.referrals.profile import ProfileIn, ProfileOut
from api.core.dependencies import DbSession
from api.core.errors import Forbidden, NotFound, Unauthorized, error_responses

router = APIRouter(prefix="/api/v1/admin/organisation-profile")
TAGS: list[str | Enum] = ["admin: organisation profile"]


class ProfileNotSet(NotFound):
    code = "organisation_profile_not_set"
    default_message = "No organisation profile has been set yet."


@router.get("", tags=TAGS, response_model=ProfileOut,
            responses=error_responses(Unauthorized, Forbidden, ProfileNotSet))
def read_profile(me: AdminOnly, session: DbSession) -> ProfileOut:
    """The profile the referral drafts print as the submitting organisation."""
    row = profile.get(session)
    if row is None:
        raise ProfileNotSet()
    return ProfileOut.model_validate(row, from_attributes=True)


@router.put("", tags=TAGS, response_model=ProfileOut,
            responses=error_responses(Unauthorized, Forbidden))
def put_profile(body: ProfileIn, me: AdminOnly, session: DbSession) -> ProfileOut:
    """Set the submitting organisation's name, contact and whether the source asks for
    confidentiality (audited)."""
    row = profile.put(session, me.user_id, body)
    return ProfileOut.model_validate(row, from_attributes=True)
