"""The organisation's offline recovery key: installing its public half, granting with it.

The private half is shown exactly once and never stored: with it (and no server secret)
an administrator can reopen every case key, recover a staff member who lost a password,
and grant existing cases to a new colleague. A seized server holds only the public half.
Best, the pair is made on an offline computer (``dokaz keys generate``) and only the
public half is imported; showing the private half is :mod:`api.keys.display`'s job.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, delete, select

from api.core.errors import Conflict, InvalidInput, ServiceUnavailable
from api.keys.models import CaseKeyWrap, OrganisationKey
from api.keys.repository import RECOVERY, active_recovery_key
from crypto.errors import CryptoError
from crypto.recovery import generate_recovery_key, parse_recovery_key, parse_recovery_public_key
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


# What an operator runs when there is no recovery key yet. Shown by intake's 503, by
# /readyz and by `dokaz serve`; no secret is ever part of it.
SETUP_HINT = (
    "run `dokaz keys generate` on an offline computer and `dokaz keys import-public "
    "DOKAZ-RP1-...` on the server, or `dokaz keys init` on the server's terminal"
)


class NoRecoveryKey(ServiceUnavailable):
    """Nothing that creates a case may run before a recovery key exists: its key would
    have no recovery wrap, so a lost staff password would lose the case."""

    code = "no_recovery_key"
    default_message = (
        "Submissions are not possible yet: this installation has no organisation recovery "
        f"key. An administrator must {SETUP_HINT}. Nothing was saved."
    )

    def __init__(self) -> None:
        super().__init__(retry_after=3600)


def require_recovery_key(session: Session) -> OrganisationKey:
    key = active_recovery_key(session)
    if key is None:
        raise NoRecoveryKey()
    return key


def install_recovery_public_key(session: Session, public: bytes, *, how: str,
                                actor_kind: str = "cli") -> OrganisationKey:
    """Store the recovery public key (audited); the private half is not involved."""
    from api.audit import actions
    from api.audit.service import record

    if active_recovery_key(session) is not None:
        raise Conflict("A recovery key already exists; rotating it is a separate procedure.")
    key = OrganisationKey(purpose=RECOVERY, public_key=public, fingerprint=fingerprint(public))
    session.add(key)
    session.flush()
    record(session, action=actions.RECOVERY_KEY_INSTALLED, actor_id=None,
           actor_kind=actor_kind, target=key.fingerprint, details={"how": how})
    return key


def import_recovery_public_key(session: Session, text: str) -> OrganisationKey:
    """Install the public half made offline by `dokaz keys generate` (DOKAZ-RP1-...)."""
    try:
        public = parse_recovery_public_key(text)
    except CryptoError as exc:
        raise InvalidInput(f"That is not a valid recovery public key: {exc}.") from None
    return install_recovery_public_key(session, public, how="imported")


def create_recovery_key(session: Session) -> tuple[OrganisationKey, str]:
    """Store a new recovery public key; return it with the private text to show once."""
    if active_recovery_key(session) is not None:
        raise Conflict("A recovery key already exists; rotating it is a separate procedure.")
    public, private_text = generate_recovery_key()
    return install_recovery_public_key(session, public, how="generated"), private_text


def recovery_public_key(session: Session) -> bytes:
    return require_recovery_key(session).public_key


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

    try:
        private = parse_recovery_key(recovery_text)
    except CryptoError as exc:
        raise InvalidInput(f"That is not a valid recovery key: {exc}.") from None
    active = require_recovery_key(session)
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
