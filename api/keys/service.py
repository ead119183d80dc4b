"""The organisation's offline recovery key: installing its public half, checking a private one.

The private half is shown exactly once and never stored: with it (and no server secret)
an administrator can reopen every case key, recover a staff member who lost a password,
and grant existing cases to a new colleague. A seized server holds only the public half.
Best, the pair is made on an offline computer (``dokaz keys generate``) and only the
public half is imported; showing the private half is :mod:`api.keys.display`'s job, and
granting cases with it is :mod:`api.cases.access.recovery`'s.
"""

from __future__ import annotations

import hashlib
import uuid

from sqlmodel import Session

from api.core.errors import Conflict, InvalidInput, ServiceUnavailable
from api.keys.models import OrganisationKey
from api.keys.repository import (
    LAWYER,
    RECOVERY,
    STAFF,
    THREAD,
    active_recovery_key,
    delete_wraps_to,
    recovery_key_exists,
)
from crypto.errors import CryptoError
from crypto.recovery import generate_recovery_key, parse_recovery_key, parse_recovery_public_key
from crypto.recovery import recovery_public_key as public_of_recovery


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


def check_recovery_key(session: Session) -> None:
    """:func:`require_recovery_key` for a caller that needs only to know one exists."""
    if not recovery_key_exists(session):
        raise NoRecoveryKey()


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
        raise InvalidInput("That is not a valid recovery public key: "
                           f"{str(exc).removeprefix('recovery public key: ')}.") from None
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
    return delete_wraps_to(session, user_id, (STAFF, LAWYER, THREAD))


def open_recovery_key(session: Session, recovery_text: str) -> bytes:
    """The recovery private key from its text, checked against this installation's public
    half (InvalidInput if it is malformed or another installation's). Kept in memory only."""
    try:
        private = parse_recovery_key(recovery_text)
    except CryptoError as exc:
        raise InvalidInput("That is not a valid recovery key: "
                           f"{str(exc).removeprefix('recovery key: ')}.") from None
    active = require_recovery_key(session)
    if public_of_recovery(private) != active.public_key:
        raise InvalidInput(
            "This recovery key does not belong to this installation "
            f"(expected fingerprint {active.fingerprint})."
        )
    return private
