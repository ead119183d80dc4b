"""The submitting organisation's profile, printed on every referral draft.

One row, set by an admin (routes in :mod:`api.admin.router`). Both Working Groups ask who
submits a communication and whether the source wants its identity kept from the
government; the drafts take both from here rather than from each caseworker.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pydantic import Field as PField
from sqlalchemy import Boolean, Column, Integer, String, true
from sqlmodel import Field, Session, SQLModel

from api.audit import actions
from api.audit import service as audit
from api.core.errors import NotFound
from api.core.models import UTCDateTime, utcnow

PROFILE_ID = 1


class OrganisationProfile(SQLModel, table=True):
    __tablename__ = "organisation_profile"

    # A single row: the deployment is one organisation.
    id: int = Field(default=PROFILE_ID, sa_column=Column(Integer, primary_key=True,
                                                         autoincrement=False))
    # Plaintext: the organisation's own public name and contact for the Working Groups; they
    # identify no victim or source (threat-model.md, "organisation profile").
    name: str = Field(sa_column=Column(String(200), nullable=False))
    contact: str = Field(sa_column=Column(String(500), nullable=False))
    # Plaintext flag: ask the Working Group not to reveal the source to the government.
    source_confidential: bool = Field(default=True, sa_column=Column(
        Boolean, nullable=False, default=True, server_default=true()))
    updated_at: datetime = Field(default_factory=utcnow,
                                 sa_column=Column(UTCDateTime, nullable=False))


class ProfileIn(BaseModel):
    # Stripped, so a name of spaces is empty (refused) from the API and the console alike.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = PField(min_length=1, max_length=200)
    contact: str = PField(min_length=1, max_length=500)
    source_confidential: bool = True


class ProfileOut(ProfileIn):
    updated_at: datetime


class ProfileNotSet(NotFound):
    code = "organisation_profile_not_set"
    default_message = "No organisation profile has been set yet."


def get(session: Session) -> OrganisationProfile | None:
    return session.get(OrganisationProfile, PROFILE_ID)


def require(session: Session) -> OrganisationProfile:
    row = get(session)
    if row is None:
        raise ProfileNotSet()
    return row


def put(session: Session, actor_id: uuid.UUID, body: ProfileIn) -> OrganisationProfile:
    """Create or replace the profile; audited with the fields that changed (not their
    values: the audit log names actions, the profile itself is the record)."""
    row = get(session)
    before = None if row is None else ProfileIn.model_validate(row, from_attributes=True)
    if row is None:
        row = OrganisationProfile(name=body.name, contact=body.contact)
        session.add(row)
    row.name, row.contact = body.name, body.contact
    row.source_confidential = body.source_confidential
    row.updated_at = utcnow()
    changed = sorted(k for k, v in body.model_dump().items()
                     if before is None or getattr(before, k) != v)
    session.flush()
    audit.record(session, action=actions.ORGANISATION_PROFILE_CHANGED,
                 actor_id=actor_id, details={"changed": ",".join(changed)})
    return row
