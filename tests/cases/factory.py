"""Cases for tests, written directly with crypto/ and the threads' contexts.

Intake's own service builds cases from the public form; these tests need cases in any
state, with chosen key wraps, so they are made here with the same byte formats:
CaseKeyWrap contexts from api.keys.service.case_key_context, payloads, attachment
metadata and file keys from api.cases.threads.contexts, blobs as crypto.stream files.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlmodel import Session

from api.auth.principals import Principal
from api.auth.roles import Role
from api.cases.access import wraps
from api.cases.files.models import Attachment
from api.cases.models import Case
from api.cases.threads import contexts
from api.cases.threads.models import CaseMessage, Submission
from api.core.models import utcnow
from api.core.settings import Settings
from api.keys.repository import LAWYER
from api.storage import generate_name, get_storage
from crypto.fields import SealedJSON
from crypto.keys import DataKey
from crypto.staff_keys import encrypt_for_session
from crypto.stream import EncryptingWriter
from tests.factories import StaffHandle, create_recovery_key_text, create_staff


def principal(handle: StaffHandle) -> Principal:
    """A signed-in Principal for service-level tests (same key handling as a session)."""
    token = secrets.token_urlsafe(32)
    session_id = uuid.uuid4()
    blob = encrypt_for_session(handle.keypair.private_bytes, token, str(session_id))
    return Principal(user_id=handle.user.id, username=handle.user.username,
                     role=Role(handle.user.role), session_id=session_id, _token=token,
                     _session_key=blob)


ROLES = {"coord": Role.COORDINATOR, "coord2": Role.COORDINATOR, "cw": Role.CASEWORKER,
         "cw2": Role.CASEWORKER, "outsider": Role.CASEWORKER, "lawyer": Role.LAWYER,
         "admin": Role.ADMIN}


class Staff:
    """Staff of every role, created on first use (accounts cost an Argon2 hash each).

    ``outsider`` is a caseworker to whom no case is ever wrapped.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._made: dict[str, StaffHandle] = {}
        create_recovery_key_text(session)

    def __getattr__(self, name: str) -> StaffHandle:
        if name.startswith("_") or name not in ROLES:
            raise AttributeError(name)
        if name not in self._made:
            self._made[name] = create_staff(self._session, ROLES[name])
        return self._made[name]

    def p(self, name: str) -> Principal:
        handle: StaffHandle = getattr(self, name)
        return principal(handle)


def make_staff(session: Session) -> Staff:
    return Staff(session)


@dataclass
class MadeCase:
    id: uuid.UUID
    key: DataKey
    submissions: list[uuid.UUID] = field(default_factory=list)
    attachments: list[uuid.UUID] = field(default_factory=list)
    messages: list[uuid.UUID] = field(default_factory=list)


def store_file(settings: Settings, file_id: uuid.UUID, data: bytes) -> tuple[str, DataKey, int]:
    storage = get_storage(settings)
    name = generate_name("a")
    sink = storage.open_writer(name)
    file_key = DataKey.generate()
    writer = EncryptingWriter(sink, file_id.bytes, file_key, record_size=64 * 1024)
    writer.write(data)
    writer.finish()
    size = sink.commit()
    return name, file_key, size


def make_case(
    session: Session,
    settings: Settings,
    *,
    wrap_to: list[StaffHandle],
    lawyer: StaffHandle | None = None,
    state: str = "new",
    region: str = "BY-HM",
    received_on: date | None = None,
    priority: str = "normal",
    payload: dict[str, Any] | None = None,
    files: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    submissions: int = 1,
    messages: list[str] = (),  # type: ignore[assignment]
) -> MadeCase:
    now = utcnow()
    key = DataKey.generate()
    case = Case(reference=f"DKZ-T{secrets.token_hex(4).upper()}", state=state, region=region,
                received_on=received_on or now.date(), priority=priority,
                priority_rank={"low": 0, "normal": 1, "high": 2}[priority],
                state_changed_at=now, created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    for handle in wrap_to:
        wraps.wrap_to_staff(session, case.id, key, handle.user, granted_by=None)
    if lawyer is not None:
        wraps.wrap_to_staff(session, case.id, key, lawyer.user, kind=LAWYER, granted_by=None)
    wraps.wrap_to_recovery(session, case.id, key)
    made = MadeCase(case.id, key)
    for n in range(submissions):
        sub_id = uuid.uuid4()
        body = dict(payload or {"narrative": f"canary narrative {n}", "persons": []})
        session.add(Submission(
            id=sub_id, case_id=case.id, thread_id=sub_id, key_case_id=case.id,
            received_on=case.received_on - timedelta(days=n),
            channel="web", submitter_role="relative", categories="detention", language="be",
            consent_scopes="internal_handling",
            lawyer_id=lawyer.user.id if lawyer is not None else None,
            payload=SealedJSON.seal(
                key, body, contexts.payload_context(case.id, sub_id)).ciphertext,
        ))
        session.flush()
        made.submissions.append(sub_id)
        for filename, media_type, data in (files if n == 0 else []):
            att_id = uuid.uuid4()
            blob, file_key, size = store_file(settings, att_id, data)
            meta = {"filename": filename, "claimed_type": media_type,
                    "detected_type": media_type, "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest()}
            session.add(Attachment(
                id=att_id, case_id=case.id, submission_id=sub_id, key_case_id=case.id,
                blob_name=blob,
                wrapped_file_key=contexts.wrap_file_key(key, case.id, att_id, file_key),
                sealed_metadata=SealedJSON.seal(
                    key, meta, contexts.attachment_metadata_context(case.id, att_id)).ciphertext,
                ciphertext_size=size,
            ))
            made.attachments.append(att_id)
    for text in messages:
        msg_id = uuid.uuid4()
        # Messages are the first (oldest-listed) submitter's thread.
        session.add(CaseMessage(id=msg_id, case_id=case.id, submission_id=made.submissions[0],
                                key_case_id=case.id, direction="from_submitter",
                                body=contexts.seal_message(key, case.id, msg_id, text)))
        made.messages.append(msg_id)
    session.commit()
    return made


def jpeg_with_gps() -> bytes:
    """A small JPEG carrying EXIF GPS coordinates, a camera model and a comment."""
    from PIL import Image

    img = Image.new("RGB", (32, 24), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0110] = "CanaryCam 3000"  # Model
    exif[0x0132] = "2025:08:09 21:30:00"  # DateTime
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (53.0, 54.0, 12.5)
    gps[3] = "E"
    gps[4] = (27.0, 33.0, 40.1)
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif, comment=b"canary comment")
    return out.getvalue()
