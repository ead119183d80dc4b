"""Creating the organisation's offline recovery key.

The private half is shown exactly once and never stored: with it (and no server secret)
an administrator can reopen every case key, recover a staff member who lost a password,
and grant existing cases to a new colleague. A seized server holds only the public half.
"""

from __future__ import annotations

import hashlib
import uuid

import typer
from sqlalchemy import Engine
from sqlmodel import Session

from api.core.db import make_engine, unit_of_work
from api.core.errors import Conflict
from api.core.settings import Settings
from api.keys.models import OrganisationKey
from api.keys.repository import RECOVERY, active_recovery_key
from crypto.recovery import generate_recovery_key


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
