"""Case keys for staff: open, grant, revoke and wrap (threat model property 2).

A staff member opens a case key with their session's private key and the wrap addressed
to them (kind ``staff``, or ``lawyer`` for a lawyer's own submissions). Granting wraps the
same key once more to the colleague's public key; revoking deletes that wrap. The
recovery wrap is never revoked here: it is what lets the organisation recover a case
when every staff member's password is lost.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from api.auth.models import StaffUser
from api.auth.principals import Principal
from api.core.errors import Conflict, Forbidden
from api.keys.models import CaseKeyWrap
from api.keys.repository import active_recovery_key
from api.keys.service import case_key_context, recovery_public_key
from crypto.errors import CryptoError
from crypto.keys import DataKey
from crypto.sealed import unwrap_data_key, wrap_data_key

STAFF = "staff"
LAWYER = "lawyer"
RECOVERY = "recovery"
RECEIPT = "receipt"
PERSONAL_KINDS = (STAFF, LAWYER)


def own_wrap(session: Session, case_id: uuid.UUID, user_id: uuid.UUID) -> CaseKeyWrap | None:
    stmt = select(CaseKeyWrap).where(
        CaseKeyWrap.case_id == case_id,
        CaseKeyWrap.recipient_id == user_id,
        col(CaseKeyWrap.recipient_kind).in_(PERSONAL_KINDS),
    )
    return session.exec(stmt).first()


def open_case_key(session: Session, principal: Principal, case_id: uuid.UUID) -> DataKey:
    """The case key through the caller's own wrap; Forbidden if they hold none."""
    wrap = own_wrap(session, case_id, principal.user_id)
    if wrap is None:
        raise Forbidden(
            "You hold no key to this case. A coordinator who can open it may grant you access."
        )
    try:
        return unwrap_data_key(
            principal.private_key(),
            wrap.wrapped_key,
            case_key_context(case_id, wrap.recipient_kind, wrap.recipient_id),
        )
    except CryptoError:
        # A wrap made for an older key pair (e.g. before a recovery reset) cannot open.
        raise Forbidden(
            "Your key could not open this case (it was granted to an earlier key of your "
            "account). Ask a coordinator to grant it again."
        ) from None


def wrap_to_staff(
    session: Session,
    case_id: uuid.UUID,
    key: DataKey,
    user: StaffUser,
    *,
    kind: str = STAFF,
    granted_by: uuid.UUID | None,
) -> CaseKeyWrap:
    # Two-person rule: an account an admin made through the API holds no case key until a
    # coordinator approved it, whichever path (assignment, grant, merge) wants to wrap.
    # A lawyer's wrap of their own submission is made at intake and is not checked here.
    if kind == STAFF and user.reader_approved_on is None:
        raise Conflict("This account is not an approved reader yet: a coordinator other than "
                       "its creator must approve it before it can receive any case key.")
    wrap = CaseKeyWrap(
        case_id=case_id,
        recipient_kind=kind,
        recipient_id=user.id,
        wrapped_key=wrap_data_key(user.public_key, key, case_key_context(case_id, kind, user.id)),
        granted_by_id=granted_by,
    )
    session.add(wrap)
    return wrap


def wrap_to_recovery(session: Session, case_id: uuid.UUID, key: DataKey) -> CaseKeyWrap:
    org_key = active_recovery_key(session)
    public = recovery_public_key(session)  # raises NoRecoveryKey (503) when there is none
    assert org_key is not None
    wrap = CaseKeyWrap(
        case_id=case_id,
        recipient_kind=RECOVERY,
        recipient_id=org_key.id,
        wrapped_key=wrap_data_key(public, key, case_key_context(case_id, RECOVERY, org_key.id)),
    )
    session.add(wrap)
    return wrap


def personal_wraps(session: Session, case_id: uuid.UUID) -> list[CaseKeyWrap]:
    stmt = select(CaseKeyWrap).where(
        CaseKeyWrap.case_id == case_id, col(CaseKeyWrap.recipient_kind).in_(PERSONAL_KINDS)
    )
    return list(session.exec(stmt))


def all_wraps(session: Session, case_id: uuid.UUID) -> list[CaseKeyWrap]:
    stmt = select(CaseKeyWrap).where(CaseKeyWrap.case_id == case_id).order_by(
        col(CaseKeyWrap.created_at)
    )
    return list(session.exec(stmt))
