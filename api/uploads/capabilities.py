"""Upload capabilities and the per-upload key.

An upload is created before any case exists, so its pieces cannot be sealed with a case
key yet. Instead the upload URL carries a capability::

    /api/v1/uploads/<upload id, 32 hex>.<secret, 43 url-safe base64 chars = 256 bits>

The server stores only ``SHA-256("dokaz-upload-secret-v1|" || secret)`` to recognise the
URL, and derives the *upload key* ``HKDF-SHA256(secret, info="dokaz-upload-key-v1" ||
upload id)`` on each request. Under the upload key it seals the client's metadata
(filename, type) and the upload's *progress* (declared length, received offset, running
SHA-256 state, see :class:`Progress`), and wraps the *file key*, made when the upload is
created, under which each PATCH's part key is sealed (:mod:`api.cases.files.stored`).
So the database and blob store alone cannot decrypt a half-finished or
finished-but-unattached upload; the
holder of the URL can continue, query, delete, or attach it. When a submission attaches
the upload, the file key is re-wrapped under the case key and the metadata re-sealed,
the parts move to the attachment, and the upload row (with its upload-key material) is
deleted.

The capability is a secret: the access log records only the route template (see
:mod:`api.core.privacy`), and error messages never contain it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import DataKey, SealedJSON
from crypto.errors import FormatError
from crypto.redaction import REDACTED, redacting
from crypto.sealed import unwrap_data_key_symmetric, wrap_data_key_symmetric

TOKEN_RE = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$")


@redacting(lambda c: f"{c.upload_id}, secret={REDACTED}")
class UploadCapability:
    __slots__ = ("_key", "secret", "upload_id")

    def __init__(self, upload_id: uuid.UUID, secret: str) -> None:
        self.upload_id = upload_id
        self.secret = secret
        self._key: DataKey | None = None

    @classmethod
    def generate(cls) -> UploadCapability:
        return cls(uuid.uuid4(), secrets.token_urlsafe(32))

    @classmethod
    def parse(cls, text: str) -> UploadCapability | None:
        """From a token, a path or a full URL; None if it is not a capability."""
        last = text.strip().rstrip("/").rsplit("/", 1)[-1]
        match = TOKEN_RE.fullmatch(last)
        if match is None:
            return None
        return cls(uuid.UUID(hex=match.group(1)), match.group(2))

    @property
    def token(self) -> str:
        return f"{self.upload_id.hex}.{self.secret}"

    @property
    def secret_hash(self) -> bytes:
        return hashlib.sha256(b"dokaz-upload-secret-v1|" + self.secret.encode()).digest()

    def matches(self, stored_hash: bytes) -> bool:
        return hmac.compare_digest(self.secret_hash, stored_hash)

    def key(self) -> DataKey:
        # Derived once per request: a creation that carries bytes asks for it twice.
        if self._key is None:
            self._key = DataKey(
                HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                     info=b"dokaz-upload-key-v1" + self.upload_id.bytes)
                .derive(self.secret.encode())
            )
        return self._key



def metadata_context(upload_id: uuid.UUID) -> str:
    return f"upload/{upload_id}/metadata"


def progress_context(upload_id: uuid.UUID) -> str:
    return f"upload/{upload_id}/progress"


@dataclass(frozen=True)
class Progress:
    """What an open upload carries from one PATCH to the next, sealed under the upload key.

    ``sha256`` is the exported running hash of every byte so far (it holds up to 63
    plaintext bytes, hence sealed), ``head`` the first bytes until there are enough to
    sniff the file type, ``detected`` the type once sniffed: so finishing an upload never
    re-reads it. ``patches`` is the row's ``patch_seq`` when sealed: the opener checks it
    against the column, so an older sealed value copied back (a rollback by someone with
    write access to the database) is refused.
    """

    length: int
    offset: int
    patches: int
    sha256: bytes
    head: bytes = b""
    detected: str | None = None
    stored: int = 0  # padded plaintext bytes of the parts so far (see service: filler)

    def __repr__(self) -> str:
        return f"Progress({self.offset}/{self.length}, patches={self.patches})"


def seal_progress(key: DataKey, upload_id: uuid.UUID, progress: Progress) -> bytes:
    value: dict[str, object] = {
        "length": progress.length, "offset": progress.offset, "patches": progress.patches,
        "sha256": base64.b64encode(progress.sha256).decode(),
        "head": base64.b64encode(progress.head).decode(), "detected": progress.detected,
        "stored": progress.stored,
    }
    return SealedJSON.seal(key, value, progress_context(upload_id)).ciphertext


def open_progress(key: DataKey, upload_id: uuid.UUID, sealed: bytes) -> Progress:
    """The sealed progress; a value of the wrong shape is corrupt (FormatError)."""
    value = SealedJSON(sealed).open(key, progress_context(upload_id))
    if not isinstance(value, dict):
        raise FormatError("sealed upload progress is malformed")
    parts = [value.get(k) for k in ("length", "offset", "patches", "stored")]
    numbers = [v for v in parts if type(v) is int and v >= 0]
    detected = value.get("detected")
    try:
        state = base64.b64decode(value["sha256"], validate=True)
        head = base64.b64decode(value["head"], validate=True)
    except (KeyError, TypeError, ValueError):
        raise FormatError("sealed upload progress is malformed") from None
    if len(numbers) != 4 or not (detected is None or isinstance(detected, str)):
        raise FormatError("sealed upload progress is malformed")
    return Progress(numbers[0], numbers[1], numbers[2], state, head, detected, numbers[3])


def final_key_context(upload_id: uuid.UUID) -> bytes:
    return f"dokaz/upload/{upload_id}/file".encode()


def seal_metadata(key: DataKey, upload_id: uuid.UUID, value: dict[str, object]) -> bytes:
    return SealedJSON.seal(key, value, metadata_context(upload_id)).ciphertext


def open_metadata(key: DataKey, upload_id: uuid.UUID, sealed: bytes) -> dict[str, object]:
    value: dict[str, object] = SealedJSON(sealed).open(key, metadata_context(upload_id))
    return value


def wrap_final_key(key: DataKey, upload_id: uuid.UUID, file_key: DataKey) -> bytes:
    return wrap_data_key_symmetric(key.raw, file_key, final_key_context(upload_id))


def unwrap_final_key(key: DataKey, upload_id: uuid.UUID, wrapped: bytes) -> DataKey:
    return unwrap_data_key_symmetric(key.raw, wrapped, final_key_context(upload_id))
