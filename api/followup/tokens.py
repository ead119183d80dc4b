"""Follow-up session tokens and the case key held for a session.

Token: ``dkf_`` + 256 random bits (url-safe base64). The server stores only
``SHA-256(token)``; the case key is kept as::

    blob = crypto.aead.encrypt(kek, 0x01 || expires || case_key,
                               b"dokaz/followup-case-key/" || session id)
    kek  = HKDF-SHA256(ikm=token, salt=none, info=b"dokaz-followup-v1" || session id)

(the same construction as staff sessions in :mod:`crypto.staff_keys`), so any API process
can serve the session while a copy of the table without the token opens nothing.
``expires`` is the session's exact end (Unix seconds, 8 bytes big-endian): sealed here
and authenticated by the AEAD, so the table itself keeps only a day-precision expiry
for purging (threat model property 13) and nobody can lengthen a session by editing it.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import DataKey, FormatError, aead, random_token

PREFIX = "dkf_"


def new_token() -> str:
    return PREFIX + random_token(32)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def _kek(token: str, session_id: uuid.UUID) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"dokaz-followup-v1" + session_id.bytes).derive(token.encode("utf-8"))


def _context(session_id: uuid.UUID) -> bytes:
    return b"dokaz/followup-case-key/" + str(session_id).encode()


_VERSION = b"\x01"
_EXPIRES = struct.Struct(">q")


def seal_case_key(case_key: DataKey, token: str, session_id: uuid.UUID,
                  expires_at: datetime) -> bytes:
    inner = _VERSION + _EXPIRES.pack(int(expires_at.timestamp())) + case_key.raw
    return aead.encrypt(_kek(token, session_id), inner, _context(session_id))


def open_case_key(blob: bytes, token: str, session_id: uuid.UUID
                  ) -> tuple[DataKey, datetime]:
    """The case key and the session's exact expiry; raises if the blob was tampered with."""
    inner = aead.decrypt(_kek(token, session_id), blob, _context(session_id))
    head = len(_VERSION) + _EXPIRES.size
    if len(inner) <= head or inner[:1] != _VERSION:
        raise FormatError("unknown follow-up session blob")
    (seconds,) = _EXPIRES.unpack(inner[1:head])
    return DataKey(inner[head:]), datetime.fromtimestamp(seconds, UTC)
