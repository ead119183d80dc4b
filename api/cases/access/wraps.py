"""Case keys for staff: open and wrap (threat model property 2).

A staff member opens a case key with their session's private key and the wrap addressed
to them (kind ``staff``, or ``lawyer`` for a lawyer's own submissions). Granting wraps the
same key once more to the colleague's public key; revoking deletes that wrap. The
recovery wrap is never revoked here: it is what lets the organisation recover a case
when every staff member's password is lost.

:func:`wrap_to` is the one function that seals a case key to a recipient: intake, merge,
split, grants, thread keys and the recovery-key grant all come here, and it stores the
row through :mod:`api.keys.repository`.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from api.auth.models import StaffUser
from api.auth.principals import Principal
from api.core.errors import Conflict, Forbidden
from api.keys import repository as keys_repository
from api.keys.models import CaseKeyWrap
from api.keys.repository import RECOVERY, STAFF
from api.keys.service import case_key_context, require_recovery_key
from crypto.errors import CryptoError
from crypto.keys import DataKey
from crypto.sealed import unwrap_data_key, wrap_data_key, wrap_data_key_symmetric


def open_case_key(session: Session, principal: Principal, case_id: uuid.UUID) -> DataKey:
    """The case key through the caller's own wrap; Forbidden if they hold none."""
    wrap = keys_repository.held_wrap(session, case_id, principal.user_id)
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


def wrap_to(
    session: Session, case_id: uuid.UUID, key: DataKey, *, kind: str,
    recipient_id: uuid.UUID, public_key: bytes | None = None, kek: bytes | None = None,
    granted_by: uuid.UUID | None = None, replace: bool = False,
) -> CaseKeyWrap:
    """Seal ``key`` to one recipient (a public key, or for a receipt its symmetric KEK) under
    the context naming case, kind and recipient, and store the wrap. ``replace`` re-addresses
    an existing wrap of the same recipient instead of adding a second one."""
    context = case_key_context(case_id, kind, recipient_id)
    if public_key is not None:
        wrapped = wrap_data_key(public_key, key, context)
    else:
        assert kek is not None, "a wrap needs a public key or a KEK"
        wrapped = wrap_data_key_symmetric(kek, key, context)
    if replace:
        existing = keys_repository.wrap_of(session, case_id, kind, recipient_id)
        if existing is not None:
            return keys_repository.replace_wrap(session, existing, wrapped,
                                                granted_by=granted_by)
    return keys_repository.add_wrap(session, case_id, kind, recipient_id, wrapped,
                                    granted_by=granted_by)


def wrap_to_staff(
    session: Session,
    case_id: uuid.UUID,
    key: DataKey,
    user: StaffUser,
    *,
    kind: str = STAFF,
    granted_by: uuid.UUID | None,
) -> CaseKeyWrap:
    require_approved_reader(user, kind)
    return wrap_to(session, case_id, key, kind=kind, recipient_id=user.id,
                   public_key=user.public_key, granted_by=granted_by)


def require_approved_reader(user: StaffUser, kind: str = STAFF) -> None:
    # Two-person rule: an account an admin made through the API holds no case key until a
    # coordinator approved it, whichever path (assignment, grant, merge, split) wants to
    # wrap. A lawyer's wrap of their own submission is made at intake and is not checked.
    if kind == STAFF and user.reader_approved_on is None:
        raise Conflict("This account is not an approved reader yet: a coordinator other than "
                       "its creator must approve it before it can receive any case key.")


def wrap_to_recovery(session: Session, case_id: uuid.UUID, key: DataKey) -> CaseKeyWrap:
    org_key = require_recovery_key(session)  # NoRecoveryKey (503) when there is none
    return wrap_to(session, case_id, key, kind=RECOVERY, recipient_id=org_key.id,
                   public_key=org_key.public_key)
