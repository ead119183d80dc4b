"""Admin management of partner organisations and API keys; a partner's own key check."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.auth.dependencies import AdminOnly
from api.core.dependencies import DbSession, Now
from api.core.errors import DENIED, Conflict, InvalidInput, NotFound, error_responses
from api.partners import service
from api.partners.dependencies import CurrentPartner
from api.partners.models import Partner, PartnerApiKey

router = APIRouter(prefix="/api/v1")
TAGS: list[str | Enum] = ["admin: partners"]


class PartnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)


class PartnerOut(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    disabled: bool

    @classmethod
    def of(cls, p: Partner) -> PartnerOut:
        return cls(id=p.id, name=p.name, created_at=p.created_at,
                   disabled=p.disabled_at is not None)


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    scopes: list[str] = Field(default_factory=lambda: ["stats:read"], max_length=8)
    expires_at: datetime | None = None


class KeyOut(BaseModel):
    id: uuid.UUID
    partner_id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, k: PartnerApiKey) -> KeyOut:
        return cls(id=k.id, partner_id=k.partner_id, name=k.name, prefix=k.prefix,
                   scopes=k.scopes.split(), created_at=k.created_at, expires_at=k.expires_at,
                   revoked_at=k.revoked_at, last_used_at=k.last_used_at)


class NewKeyOut(BaseModel):
    key: KeyOut
    api_key: str = Field(description="The secret key. Shown once; only a hash is kept.")


class PartnerSelf(BaseModel):
    partner_id: uuid.UUID
    name: str
    key_id: uuid.UUID
    scopes: list[str]


@router.post("/admin/partners", tags=TAGS, response_model=PartnerOut, status_code=201,
             responses=error_responses(*DENIED, InvalidInput, Conflict))
def create_partner(body: PartnerIn, me: AdminOnly, session: DbSession) -> PartnerOut:
    return PartnerOut.of(service.create_partner(session, body.name, actor_id=me.user_id))


@router.get("/admin/partners", tags=TAGS, response_model=list[PartnerOut],
            responses=error_responses(*DENIED))
def list_partners(me: AdminOnly, session: DbSession) -> list[PartnerOut]:
    return [PartnerOut.of(p) for p in service.list_partners(session)]


@router.post("/admin/partners/{partner_id}/keys", tags=TAGS, response_model=NewKeyOut,
             status_code=201, responses=error_responses(*DENIED, NotFound, InvalidInput))
def create_key(partner_id: uuid.UUID, body: KeyIn, me: AdminOnly, session: DbSession,
               now: Now) -> NewKeyOut:
    """Create an API key. The key is in this response only: store it now."""
    partner = service.get_partner(session, partner_id)
    new = service.create_key(session, partner, name=body.name, scopes=body.scopes,
                             expires_at=body.expires_at, now=now, actor_id=me.user_id)
    return NewKeyOut(key=KeyOut.of(new.key), api_key=new.secret)


@router.get("/admin/partners/{partner_id}/keys", tags=TAGS, response_model=list[KeyOut],
            responses=error_responses(*DENIED, NotFound))
def list_keys(partner_id: uuid.UUID, me: AdminOnly, session: DbSession) -> list[KeyOut]:
    service.get_partner(session, partner_id)
    return [KeyOut.of(k) for k in service.list_keys(session, partner_id)]


@router.post("/admin/partner-keys/{key_id}/revoke", tags=TAGS, response_model=KeyOut,
             responses=error_responses(*DENIED, NotFound))
def revoke_key(key_id: uuid.UUID, me: AdminOnly, session: DbSession, now: Now) -> KeyOut:
    """Revoke a key; it stops working immediately."""
    return KeyOut.of(service.revoke_key(session, key_id, now=now, actor_id=me.user_id))


@router.get("/partner/me", tags=["partner"], response_model=PartnerSelf,
            responses=error_responses(*DENIED))
def partner_me(partner: CurrentPartner) -> PartnerSelf:
    """Check an API key: which partner it belongs to and its scopes."""
    return PartnerSelf(partner_id=partner.partner_id, name=partner.name,
                       key_id=partner.key_id, scopes=sorted(partner.scopes))
