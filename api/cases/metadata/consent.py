"""Consent per person and scope: versioned, revoked but never deleted.

Giving consent adds a row with the next version for (person, scope); revoking stamps
``revoked_at`` and ``revoked_by_id`` on the active row. At most one row per (person,
scope) is active. :func:`has_consent` is what referrals, exports and statistics ask.

Consent given in a report is recorded at intake (:func:`record_intake`, source
``intake``, no staff member): it counts at once. A caseworker confirms it by giving the
same consent (a new version by them, which supersedes the intake row: that row is stamped
revoked by them, and the history keeps both) or corrects it by revoking it.
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
from api.cases.models import SOURCE_INTAKE, SOURCE_STAFF, Case, CaseConsent, CasePerson
from api.cases.workflow import events
from api.core.errors import Conflict, InvalidInput, NotFound
from api.core.models import utctoday
from api.core.settings import Settings
from crypto.fields import SealedText
from crypto.keys import DataKey


def active(session: Session, case_id: uuid.UUID) -> list[CaseConsent]:
    return list(session.exec(select(CaseConsent).where(
        CaseConsent.case_id == case_id, col(CaseConsent.revoked_at).is_(None))))


def active_row(session: Session, person_id: uuid.UUID, scope: str) -> CaseConsent | None:
    return session.exec(select(CaseConsent).where(
        CaseConsent.person_id == person_id, CaseConsent.scope == scope,
        col(CaseConsent.revoked_at).is_(None))).first()


def _next_version(session: Session, person_id: uuid.UUID, scope: str) -> int:
    last = session.exec(select(func.max(CaseConsent.version)).where(
        CaseConsent.person_id == person_id, CaseConsent.scope == scope)).one()
    return (last or 0) + 1


def record_intake(session: Session, case: Case, person_id: uuid.UUID, scope: str,
                  submission_id: uuid.UUID, *, on_behalf: bool, first: bool = False
                  ) -> CaseConsent | None:
    """The consent a report gave, as a version with source ``intake`` (added; the caller
    flushes); nothing when the person's consent to ``scope`` is already active. ``first``:
    the person was created in this transaction, so this is version 1 (nothing is read)."""
    if not first and active_row(session, person_id, scope) is not None:
        return None
    row = CaseConsent(case_id=case.id, person_id=person_id, scope=scope,
                      version=1 if first else _next_version(session, person_id, scope),
                      recorded_by_id=None, source=SOURCE_INTAKE,
                      source_submission_id=submission_id, on_behalf=on_behalf)
    session.add(row)
    return row


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
                   active=r.revoked_at is None, source=r.source,
                   source_submission_id=r.source_submission_id, on_behalf=r.on_behalf,
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
    current = active_row(session, person.id, body.scope)
    if current is not None and current.source != SOURCE_INTAKE:
        raise Conflict("This person's consent for this scope is already recorded and active.")
    if current is not None:
        # Confirming what the report said: the staff version supersedes the intake one, so
        # one row stays active and revoking the confirmed consent leaves nothing behind.
        current.revoked_at = utctoday()
        current.revoked_by_id = principal.user_id
        session.add(current)
        session.flush()
    row = CaseConsent(case_id=case.id, person_id=person.id, scope=body.scope,
                      version=_next_version(session, person.id, body.scope),
                      recorded_by_id=principal.user_id, source=SOURCE_STAFF)
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
                      active=row.revoked_at is None, source=row.source,
                      source_submission_id=row.source_submission_id, on_behalf=row.on_behalf,
                      note=note)
