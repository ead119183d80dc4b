"""Partner organisations and their API keys: create, list, revoke, authenticate.

A key is shown once, when created; only its SHA-256 is stored (see models.py). Keys have
a name, scopes, an optional expiry, and can be revoked at once. Every change is audited;
statistics pulls are audited by the statistics endpoints (actions.PARTNER_PULL).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.audit import actions
from api.audit.service import after_outcome, record
from api.core.errors import Conflict, InvalidInput, NotFound, Unauthorized, found
from api.core.touch import touch_if_stale
from api.partners import repository
from api.partners.models import Partner, PartnerApiKey
from crypto.keys import random_token
from crypto.redaction import SHOWN_ONCE, redacting

KEY_PREFIX = "dkp_"
# Scopes a key can carry. Statistics endpoints check "stats:read".
KNOWN_SCOPES = frozenset({"stats:read"})
TOUCH_EVERY = timedelta(minutes=1)


@redacting(lambda k: f"id={k.key.id}, prefix={k.key.prefix!r}, secret={SHOWN_ONCE}")
@dataclass(frozen=True)
class NewKey:
    key: PartnerApiKey
    secret: str


def key_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def _clean_name(name: str, what: str, limit: int) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= limit:
        raise InvalidInput(f"The {what} must be 1 to {limit} characters.")
    return name


def create_partner(
    session: Session, name: str, *, actor_id: uuid.UUID | None, actor_kind: str = "staff"
) -> Partner:
    name = _clean_name(name, "partner name", 128)
    if session.exec(select(Partner).where(col(Partner.name) == name)).first() is not None:
        raise Conflict("A partner with that name exists.")
    partner = Partner(name=name)
    session.add(partner)
    session.flush()
    record(session, action=actions.PARTNER_CREATED, actor_id=actor_id, actor_kind=actor_kind,
           target=str(partner.id))
    return partner


def list_partners(session: Session) -> Sequence[Partner]:
    return session.exec(select(Partner).order_by(col(Partner.name))).all()


def get_partner(session: Session, partner_id: uuid.UUID) -> Partner:
    return found(repository.get_partner(session, partner_id), "No such partner.")


def find_partner(session: Session, name: str) -> Partner:
    return found(session.exec(select(Partner).where(col(Partner.name) == name.strip())).first(),
                 "No partner with that name.")


def create_key(
    session: Session, partner: Partner, *, name: str, scopes: Iterable[str],
    expires_at: datetime | None, now: datetime, actor_id: uuid.UUID | None,
    actor_kind: str = "staff",
) -> NewKey:
    name = _clean_name(name, "key name", 64)
    scope_set = {s.strip() for s in scopes if s.strip()}
    unknown = scope_set - KNOWN_SCOPES
    if not scope_set or unknown:
        raise InvalidInput(
            "Choose at least one scope from: " + ", ".join(sorted(KNOWN_SCOPES)) + "."
        )
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("The expiry date must be in the future.")
    secret = KEY_PREFIX + random_token(32)
    key = PartnerApiKey(
        partner_id=partner.id, name=name, prefix=secret[:12], key_hash=key_hash(secret),
        scopes=" ".join(sorted(scope_set)), created_at=now, expires_at=expires_at,
        created_by_id=actor_id,
    )
    session.add(key)
    session.flush()
    record(session, action=actions.PARTNER_KEY_CREATED, actor_id=actor_id,
           actor_kind=actor_kind, target=str(partner.id),
           details={"key_id": str(key.id), "scopes": key.scopes})
    return NewKey(key, secret)


def list_keys(session: Session, partner_id: uuid.UUID) -> Sequence[PartnerApiKey]:
    stmt = (select(PartnerApiKey).where(col(PartnerApiKey.partner_id) == partner_id)
            .order_by(col(PartnerApiKey.created_at)))
    return session.exec(stmt).all()


def revoke_key(
    session: Session, key_id: uuid.UUID, *, now: datetime, actor_id: uuid.UUID | None,
    actor_kind: str = "staff",
) -> PartnerApiKey:
    key = session.get(PartnerApiKey, key_id)
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        key.revoked_at = now
        session.add(key)
        session.flush()
        record(session, action=actions.PARTNER_KEY_REVOKED, actor_id=actor_id,
               actor_kind=actor_kind, target=str(key.partner_id),
               details={"key_id": str(key.id)})
    return key


def authenticate_key(session: Session, secret: str, now: datetime) -> tuple[PartnerApiKey, Partner]:
    """The live key and partner for an API key, or a 401 saying why not."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 128:
        raise Unauthorized("This is not a Dokaz partner API key (they start with dkp_).")
    key = session.exec(
        select(PartnerApiKey).where(col(PartnerApiKey.key_hash) == key_hash(secret))
    ).first()
    if key is None:
        raise Unauthorized("This API key is not known.")
    if key.revoked_at is not None:
        raise Unauthorized("This API key was revoked; ask the organisation for a new one.")
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized("This API key has expired; ask the organisation for a new one.")
    partner = session.get(Partner, key.partner_id)
    if partner is None or partner.disabled_at is not None:
        raise Unauthorized("This partner's access is switched off.")
    if key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY:
        _touch_later(session, key.id, now)
    return key, partner


def _touch_later(session: Session, key_id: uuid.UUID, now: datetime) -> None:
    """Mark the key used, after the request's transaction (api/core/touch.py): written
    with the request, the key's row stayed locked through the pull's rendering, and every
    other pull with the same key waited for it."""
    table = PartnerApiKey.__table__  # type: ignore[attr-defined]

    def work(engine: Engine) -> None:
        touch_if_stale(engine, table, "last_used_at", key_id, now, TOUCH_EVERY)

    after_outcome(session, work)
