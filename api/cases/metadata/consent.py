"""Consent per person and scope: versioned, revoked but never deleted.

Giving consent adds a row with the next version for (person, scope); revoking stamps
``revoked_at`` and ``revoked_by_id`` on the active row. At most one row per (person,
scope) is active. :func:`has_consent` is what referrals, exports and statistics ask.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.audit import actions
from api.audit import service as audit
from api.auth.principals import Principal
from api.cases.metadata.contexts import consent_note_context
from api.cases.metadata.schemas import ConsentIn, ConsentOut
from api.cases.models import Case, CaseConsent, CasePerson
from api.cases.workflow import events
from api.core.errors import Conflict, InvalidInput, NotFound
from api.core.models import utctoday
from api.core.settings import Settings
from crypto.fields import SealedText
from crypto.keys import DataKey


def active(session: Session, case_id: uuid.UUID) -> list[CaseConsent]:
    return list(session.exec(select(CaseConsent).where(
        CaseConsent.case_id == case_id, col(CaseConsent.revoked_at).is_(None))))


def has_consent(session: Session, case_id: uuid.UUID, person_id: uuid.UUID, scope: str) -> bool:
    row = session.exec(select(CaseConsent.id).where(
        CaseConsent.case_id == case_id, CaseConsent.person_id == person_id,
        CaseConsent.scope == scope, col(CaseConsent.revoked_at).is_(None))).first()
    return row is not None


def consents_out(session: Session, case: Case, key: DataKey) -> list[ConsentOut]:
    rows = session.exec(select(CaseConsent).where(CaseConsent.case_id == case.id).order_by(
        col(CaseConsent.person_id), col(CaseConsent.scope), col(CaseConsent.version)))
    return [
        ConsentOut(id=r.id, person_id=r.person_id, scope=r.scope, version=r.version,
                   recorded_by_id=r.recorded_by_id, recorded_at=r.recorded_at,
                   revoked_at=r.revoked_at, revoked_by_id=r.revoked_by_id,
                   active=r.revoked_at is None,
                   note=None if r.sealed_note is None else SealedText(r.sealed_note).open(
                       key, consent_note_context(case.id, r.id)))
        for r in rows
    ]


def give(
    session: Session, principal: Principal, case: Case, key: DataKey, body: ConsentIn,
    settings: Settings,
) -> CaseConsent:
    person = session.get(CasePerson, body.person_id)
    if person is None or person.case_id != case.id:
        raise InvalidInput("person_id names no person of this case.")
    if has_consent(session, case.id, person.id, body.scope):
        raise Conflict("This person's consent for this scope is already recorded and active.")
    last = session.exec(select(func.max(CaseConsent.version)).where(
        CaseConsent.person_id == person.id, CaseConsent.scope == body.scope)).one()
    row = CaseConsent(case_id=case.id, person_id=person.id, scope=body.scope,
                      version=(last or 0) + 1, recorded_by_id=principal.user_id)
    if body.note:
        row.sealed_note = SealedText.seal(key, body.note,
                                          consent_note_context(case.id, row.id)).ciphertext
    session.add(row)
    events.changed(session, case, settings, kind=events.CONSENT, actor_id=principal.user_id,
                   key=key, detail=f"give scope={body.scope} person={person.id} v={row.version}")
    audit.record(session, action=actions.CASE_CHANGED, actor_id=principal.user_id,
                 case_id=case.id, target=str(row.id),
                 details={"change": "consent_given", "scope": body.scope})
    session.flush()
    return row


def revoke(
    session: Session, principal: Principal, case: Case, key: DataKey, consent_id: uuid.UUID,
    settings: Settings,
) -> CaseConsent:
    row = session.get(CaseConsent, consent_id)
    if row is None or row.case_id != case.id:
        raise NotFound("No such consent record in this case.")
    if row.revoked_at is not None:
        raise Conflict("This consent was already revoked.")
    row.revoked_at = utctoday()  # day precision, like recorded_at (property 13)
    row.revoked_by_id = principal.user_id
    session.add(row)
    events.changed(session, case, settings, kind=events.CONSENT, actor_id=principal.user_id,
                   key=key, detail=f"revoke scope={row.scope} person={row.person_id} "
                   f"v={row.version}")
    audit.record(session, action=actions.CASE_CHANGED, actor_id=principal.user_id,
                 case_id=case.id, target=str(row.id),
                 details={"change": "consent_revoked", "scope": row.scope})
    session.flush()
    return row


def out(row: CaseConsent, note: str | None = None) -> ConsentOut:
    return ConsentOut(id=row.id, person_id=row.person_id, scope=row.scope, version=row.version,
                      recorded_by_id=row.recorded_by_id, recorded_at=row.recorded_at,
                      revoked_at=row.revoked_at, revoked_by_id=row.revoked_by_id,
                      active=row.revoked_at is None, note=note)
