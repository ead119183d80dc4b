"""Queries on organisation keys and case-key wraps: the only module that reads or writes
``case_key_wrap`` rows.

Features decide who gets a wrap and build the sealed bytes (:mod:`api.cases.access.wraps`);
this module stores, finds and deletes the rows, so "does this person hold a key for this
case" is one query here whatever feature asks it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import BindParameter, Exists, exists
from sqlmodel import Session, col, delete, select
from sqlmodel.sql.expression import SelectOfScalar

from api.keys.models import CaseKeyWrap, OrganisationKey

# Recipient kinds of a wrap (``CaseKeyWrap.recipient_kind``).
STAFF = "staff"
LAWYER = "lawyer"
RECOVERY = "recovery"
RECEIPT = "receipt"
# This case's key held only for its threads that now live in other cases
# (api.cases.threads.keyrings): it never makes its holder a reader of this case.
THREAD = "thread"
# Wraps that make a person a reader of the case itself.
PERSONAL_KINDS = (STAFF, LAWYER)
# Wraps a person may open a thread with: their own case wraps and thread keys.
HOLDER_KINDS = (STAFF, LAWYER, THREAD)


# What makes a recovery key the active one (not retired), for the questions below.
_ACTIVE_RECOVERY = (col(OrganisationKey.purpose) == RECOVERY,
                    col(OrganisationKey.retired_at).is_(None))
_RECOVERY_EXISTS = exists().where(*_ACTIVE_RECOVERY)


def active_recovery_key(session: Session) -> OrganisationKey | None:
    stmt = (
        select(OrganisationKey)
        .where(*_ACTIVE_RECOVERY)
        .order_by(col(OrganisationKey.created_at).desc())
    )
    return session.exec(stmt).first()


def recovery_key_exists_clause() -> Exists:
    """True while an active recovery key exists: for a statement that must only take
    effect then (see :func:`api.uploads.repository.insert_while_recoverable`)."""
    return _RECOVERY_EXISTS


def recovery_key_exists(session: Session) -> bool:
    """Whether an active recovery key exists, without loading it: asked before every
    report is taken in (a tus creation asks within its INSERT instead,
    :func:`recovery_key_exists_clause`). A Core statement on the session's connection
    (its transaction), not an ORM query."""
    stmt = select(col(OrganisationKey.id)).where(*_ACTIVE_RECOVERY).limit(1)
    return session.connection().execute(stmt).first() is not None


def add_wrap(
    session: Session, case_id: uuid.UUID, kind: str, recipient_id: uuid.UUID,
    wrapped_key: bytes, *, granted_by: uuid.UUID | None = None,
) -> CaseKeyWrap:
    wrap = CaseKeyWrap(case_id=case_id, recipient_kind=kind, recipient_id=recipient_id,
                       wrapped_key=wrapped_key, granted_by_id=granted_by)
    session.add(wrap)
    return wrap


def replace_wrap(session: Session, wrap: CaseKeyWrap, wrapped_key: bytes, *,
                 granted_by: uuid.UUID | None) -> CaseKeyWrap:
    """Re-address an existing wrap (after a password reset it opened a key that is gone)."""
    wrap.wrapped_key = wrapped_key
    wrap.granted_by_id = granted_by
    session.add(wrap)
    return wrap


def wrap_of(session: Session, case_id: uuid.UUID, kind: str, recipient_id: uuid.UUID
            ) -> CaseKeyWrap | None:
    """The one wrap of a case to one recipient of one kind (unique by constraint)."""
    stmt = select(CaseKeyWrap).where(
        col(CaseKeyWrap.case_id) == case_id, col(CaseKeyWrap.recipient_kind) == kind,
        col(CaseKeyWrap.recipient_id) == recipient_id,
    )
    return session.exec(stmt).first()


def held_wrap(session: Session, case_id: uuid.UUID, user_id: uuid.UUID,
              kinds: Collection[str] = PERSONAL_KINDS) -> CaseKeyWrap | None:
    """A person's wrap of a case key, among ``kinds`` (by default: as a reader of it)."""
    stmt = select(CaseKeyWrap).where(
        col(CaseKeyWrap.case_id) == case_id, col(CaseKeyWrap.recipient_id) == user_id,
        col(CaseKeyWrap.recipient_kind).in_(list(kinds)),
    )
    return session.exec(stmt).first()


def wrapped_case_ids(user_id: uuid.UUID | BindParameter[uuid.UUID],
                     kinds: Collection[str] = PERSONAL_KINDS) -> SelectOfScalar[uuid.UUID]:
    """``SELECT case_id`` of the wraps addressed to a person, for case scoping (the
    person's id, or a bound parameter standing for it in a statement built once)."""
    return select(CaseKeyWrap.case_id).where(
        col(CaseKeyWrap.recipient_kind).in_(list(kinds)),
        col(CaseKeyWrap.recipient_id) == user_id,
    )


def wraps_of_case(session: Session, case_id: uuid.UUID,
                  kinds: Collection[str] | None = None) -> list[CaseKeyWrap]:
    """A case's wraps (of ``kinds``, or all), oldest first."""
    stmt = select(CaseKeyWrap).where(col(CaseKeyWrap.case_id) == case_id)
    if kinds is not None:
        stmt = stmt.where(col(CaseKeyWrap.recipient_kind).in_(list(kinds)))
    return list(session.exec(stmt.order_by(col(CaseKeyWrap.created_at))))


def recovery_wraps(session: Session, case_ids: Collection[uuid.UUID] | None
                   ) -> dict[uuid.UUID, CaseKeyWrap]:
    """The recovery wrap of each of ``case_ids`` that has one (``None``: of every case)."""
    stmt = select(CaseKeyWrap).where(col(CaseKeyWrap.recipient_kind) == RECOVERY)
    if case_ids is not None:
        stmt = stmt.where(col(CaseKeyWrap.case_id).in_(list(case_ids)))
    return {w.case_id: w for w in session.exec(stmt)}


def delete_wrap(session: Session, wrap: CaseKeyWrap) -> None:
    session.delete(wrap)


def delete_wraps_to(session: Session, recipient_id: uuid.UUID, kinds: Collection[str],
                    case_ids: Collection[uuid.UUID] | None = None) -> int:
    """Delete the wraps of ``kinds`` addressed to one recipient (in ``case_ids`` only, when
    given); returns how many went."""
    stmt = delete(CaseKeyWrap).where(
        col(CaseKeyWrap.recipient_id) == recipient_id,
        col(CaseKeyWrap.recipient_kind).in_(list(kinds)),
    )
    if case_ids is not None:
        stmt = stmt.where(col(CaseKeyWrap.case_id).in_(list(case_ids)))
    return int(session.exec(stmt).rowcount or 0)
