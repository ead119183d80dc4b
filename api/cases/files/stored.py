"""The plaintext of a stored file, whether it is one blob or many parts.

Every reader of an attachment's bytes (download, clean copies, thread helpers) goes
through :func:`plaintext`, so there is one place that knows how files are laid out:

* one blob (``attachment.blob_name``): a ``crypto.stream`` file under the file key with
  the attachment id as its stream id (multipart intake, clean copies, files from before
  revision 0013, and tus uploads finished before it);
* parts (:class:`~api.cases.files.models.FilePart`, a finished tus upload): each a stream
  file under its own key; the key, stream id and exact size of part ``seq`` are sealed
  under the file key for (file id, seq) by :func:`seal_part`.

Integrity of a file in parts: a part row moved, renumbered or taken from another file does
not open (the sealed context names the file and the position, the stream id is checked by
the reader); every part must decrypt to exactly its sealed size, and the sizes must add up
to the file's sealed size *before* the first byte is yielded, so a missing or extra part is
an error, never a short or long file. The parts' rows are read eagerly, so the returned
iterator needs no database session (a download streams after the request's session ends).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from sqlmodel import Session, col, select

from api.cases.files.models import Attachment, FilePart
from api.storage import BlobStorage
from crypto import DataKey, SealedJSON, decrypt_stream
from crypto.errors import FormatError


class PartsInconsistent(FormatError):
    """The parts of a file do not add up (one is missing, extra or damaged)."""


@dataclass(frozen=True)
class Piece:
    blob_name: str
    key: DataKey
    stream_id: bytes
    size: int | None  # exact plaintext size; None for a single blob (checked by its trailer)

    def __repr__(self) -> str:
        return f"Piece({self.blob_name})"


def part_context(file_id: uuid.UUID, seq: int) -> str:
    return f"file/{file_id}/part/{seq}"


def seal_part(file_key: DataKey, file_id: uuid.UUID, seq: int, part_id: uuid.UUID,
              part_key: DataKey, size: int) -> bytes:
    value = {"id": part_id.hex, "key": part_key.raw.hex(), "size": size}
    return SealedJSON.seal(file_key, value, part_context(file_id, seq)).ciphertext


def open_part(file_key: DataKey, file_id: uuid.UUID, seq: int, sealed: bytes,
              blob_name: str) -> Piece:
    value = SealedJSON(sealed).open(file_key, part_context(file_id, seq))
    try:
        size = value["size"]
        if type(size) is not int or size < 0:
            raise ValueError
        return Piece(blob_name, DataKey(bytes.fromhex(value["key"])),
                     uuid.UUID(hex=value["id"]).bytes, size)
    except (KeyError, TypeError, ValueError):
        raise PartsInconsistent("a sealed file part is malformed") from None


def parts_of(session: Session, attachment_id: uuid.UUID) -> list[FilePart]:
    stmt = select(FilePart).where(col(FilePart.attachment_id) == attachment_id)
    return list(session.exec(stmt.order_by(col(FilePart.seq))))


def part_pieces(file_key: DataKey, file_id: uuid.UUID, parts: list[FilePart]) -> list[Piece]:
    if [p.seq for p in parts] != list(range(len(parts))):
        raise PartsInconsistent("the parts of a file are not numbered 0..n-1")
    return [open_part(file_key, file_id, p.seq, p.sealed_part, p.blob_name) for p in parts]


def pieces(session: Session | None, att: Attachment, file_key: DataKey) -> list[Piece]:
    """Where an attachment's plaintext is, in order (raises CryptoError on tampering).
    ``session`` may be None only for a single-blob file."""
    if att.blob_name is not None:
        return [Piece(att.blob_name, file_key, att.id.bytes, None)]
    if session is None:
        raise ValueError("reading a file stored in parts needs a database session")
    parts = parts_of(session, att.id)
    if not parts:
        raise PartsInconsistent("a file in parts has no parts")
    return part_pieces(file_key, att.id, parts)


def read(storage: BlobStorage, pieces: list[Piece], size: int | None) -> Iterator[bytes]:
    """Authenticated plaintext records of ``pieces`` in order. ``size`` is the file's
    sealed size; for parts it must equal the sum of the sealed part sizes."""
    parts = any(p.size is not None for p in pieces)
    if parts and (size is None or sum(p.size or 0 for p in pieces) != size):
        raise PartsInconsistent("the parts of a file do not add up to its size")
    return _records(storage, pieces)


def _records(storage: BlobStorage, pieces: list[Piece]) -> Iterator[bytes]:
    for piece in pieces:
        left = piece.size
        with storage.open_reader(piece.blob_name) as source:
            for record in decrypt_stream(source, piece.key, piece.stream_id):
                if left is None:
                    yield record
                    continue
                # The last part of an upload carries filler zeros after its data (so
                # the parts take the whole file's Padmé bucket); they are read to the
                # end (the final record must authenticate) and never yielded.
                if len(record) <= left:
                    yield record
                    left -= len(record)
                    continue
                if left:
                    yield record[:left]
                if record[left:].strip(b"\0"):
                    raise PartsInconsistent("a file part has data beyond its sealed size")
                left = 0
        if left:
            raise PartsInconsistent("a file part is shorter than the size sealed for it")


def plaintext(session: Session | None, storage: BlobStorage, att: Attachment, file_key: DataKey,
              size: int | None) -> Iterator[bytes]:
    """An attachment's plaintext records (its rows are read now, the blobs as you iterate)."""
    return read(storage, pieces(session, att, file_key), size)


def blob_names(session: Session, att: Attachment) -> list[str]:
    """Every blob that holds the attachment (for shredding and deletion)."""
    if att.blob_name is not None:
        return [att.blob_name]
    return [p.blob_name for p in parts_of(session, att.id)]
