"""Creating the organisation's offline recovery key.

The private half is shown exactly once and never stored: with it (and no server secret)
an administrator can reopen every case key, recover a staff member who lost a password,
and grant existing cases to a new colleague. A seized server holds only the public half.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import typer
from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select

from api.core.db import make_engine, unit_of_work
from api.core.errors import Conflict
from api.core.settings import Settings
from api.keys.models import CaseKeyWrap, OrganisationKey
from api.keys.repository import RECOVERY, active_recovery_key
from crypto.errors import CryptoError
from crypto.recovery import generate_recovery_key, parse_recovery_key
from crypto.recovery import recovery_public_key as public_of_recovery
from crypto.sealed import unwrap_data_key, wrap_data_key


def case_key_context(case_id: uuid.UUID, recipient_kind: str, recipient_id: uuid.UUID) -> bytes:
    """The associated-data context of one CaseKeyWrap (crypto.sealed / wrap_data_key*).

    ``b"dokaz/case-key/<case id>/<kind>/<recipient id>"``: binding the case and the
    recipient means a wrapped key copied onto another case's or person's row fails to
    open instead of silently granting access. Every feature that wraps or unwraps a case
    key uses this one function so the bytes always agree.
    """
    return f"dokaz/case-key/{case_id}/{recipient_kind}/{recipient_id}".encode()


def fingerprint(public_key: bytes) -> str:
    digest = hashlib.sha256(b"dokaz-recovery-fingerprint" + public_key).hexdigest()[:32]
    return "-".join(digest[i : i + 4] for i in range(0, 32, 4))


def create_recovery_key(session: Session) -> tuple[OrganisationKey, str]:
    """Store a new recovery public key; return it with the private text to print once."""
    if active_recovery_key(session) is not None:
        raise Conflict("A recovery key already exists; rotating it is a separate procedure.")
    public, private_text = generate_recovery_key()
    key = OrganisationKey(purpose=RECOVERY, public_key=public, fingerprint=fingerprint(public))
    session.add(key)
    session.flush()
    return key, private_text


def recovery_public_key(session: Session) -> bytes:
    key = active_recovery_key(session)
    if key is None:
        raise Conflict("No organisation recovery key exists yet; run `dokaz keys init`.")
    return key.public_key


BANNER = """
==============================================================================
 ORGANISATION RECOVERY KEY - shown once, never stored on this server
==============================================================================
 Write it down or print it and keep it OFFLINE (a safe, not a laptop). It can
 open every case, so treat it like the cases themselves. Without it, a lost
 staff password means the cases only that person could open are lost.

   {key}

 Fingerprint (also shown by `dokaz keys show`): {fp}
==============================================================================
"""


def ensure_recovery_key_interactive(settings: Settings, engine: Engine | None = None) -> bool:
    """Create and print the recovery key if this installation has none. True if created."""
    engine = engine or make_engine(settings)
    with unit_of_work(engine) as session:
        if active_recovery_key(session) is not None:
            return False
        key, private_text = create_recovery_key(session)
        fp = key.fingerprint
    typer.echo(BANNER.format(key=private_text, fp=fp))
    return True


def drop_wraps_of_recipient(session: Session, user_id: uuid.UUID) -> int:
    """Delete every case-key wrap addressed to a staff member or lawyer, thread keys
    included (after a password reset their old private key is gone, so these wraps open
    nothing)."""
    stmt = delete(CaseKeyWrap).where(
        col(CaseKeyWrap.recipient_id) == user_id,
        col(CaseKeyWrap.recipient_kind).in_(["staff", "lawyer", "thread"]),
    )
    return int(session.exec(stmt).rowcount or 0)


@dataclass(frozen=True)
class GrantResult:
    granted: int
    without_recovery_wrap: int


def _recipient_kind(role: str) -> str:
    return "lawyer" if role == "lawyer" else "staff"


def grant_with_recovery_key(
    session: Session,
    *,
    recovery_text: str,
    user_id: uuid.UUID,
    user_public_key: bytes,
    user_role: str,
    case_ids: Sequence[uuid.UUID] | None,
    actor_id: uuid.UUID | None = None,
    actor_kind: str = "cli",
) -> GrantResult:
    """Wrap existing cases to a staff member, opening them with the offline recovery key.

    ``case_ids=None`` means every case that has a recovery wrap. Each grant is audited
    (key.grant, with the case id). An existing wrap for the same person is replaced: after
    a password reset it was addressed to a key that no longer exists. The recovery private
    key lives only in this call's memory.
    """
    from api.audit import actions
    from api.audit.service import record
    from api.core.errors import InvalidInput

    try:
        private = parse_recovery_key(recovery_text)
    except CryptoError as exc:
        raise InvalidInput(f"That is not a valid recovery key: {exc}.") from None
    active = active_recovery_key(session)
    if active is None:
        raise Conflict("No organisation recovery key exists yet; run `dokaz keys init`.")
    if public_of_recovery(private) != active.public_key:
        raise InvalidInput(
            "This recovery key does not belong to this installation "
            f"(expected fingerprint {active.fingerprint})."
        )
    stmt = select(CaseKeyWrap).where(col(CaseKeyWrap.recipient_kind) == RECOVERY)
    if case_ids is not None:
        stmt = stmt.where(col(CaseKeyWrap.case_id).in_(list(case_ids)))
    recovery_wraps = {w.case_id: w for w in session.exec(stmt)}
    kind = _recipient_kind(user_role)
    granted = 0
    for case_id, wrap in sorted(recovery_wraps.items()):
        data_key = unwrap_data_key(
            private, wrap.wrapped_key, case_key_context(case_id, RECOVERY, wrap.recipient_id)
        )
        wrapped = wrap_data_key(user_public_key, data_key, case_key_context(case_id, kind, user_id))
        existing = session.exec(select(CaseKeyWrap).where(
            col(CaseKeyWrap.case_id) == case_id, col(CaseKeyWrap.recipient_kind) == kind,
            col(CaseKeyWrap.recipient_id) == user_id,
        )).first()
        if existing is not None:
            existing.wrapped_key = wrapped
            existing.granted_by_id = actor_id
            session.add(existing)
        else:
            session.add(CaseKeyWrap(case_id=case_id, recipient_kind=kind, recipient_id=user_id,
                                    wrapped_key=wrapped, granted_by_id=actor_id))
        session.flush()
        record(session, action=actions.KEY_GRANT, actor_id=actor_id, actor_kind=actor_kind,
               case_id=case_id, target=str(user_id),
               details={"recipient_kind": kind, "via": "recovery_key"})
        granted += 1
    missing = 0 if case_ids is None else len(set(case_ids) - set(recovery_wraps))
    return GrantResult(granted=granted, without_recovery_wrap=missing)
