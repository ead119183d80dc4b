"""Receiving files: hashing, type detection and encryption while the bytes arrive.

Each file gets a fresh :class:`~crypto.keys.DataKey` and a generated blob name; its
stream file id is the future attachment's id (``crypto.stream`` binds every record to
it). Plaintext exists only in the current network chunk and in the stream writer's one
record buffer; hashing and encryption of full records run in worker threads
(:class:`crypto.stream.AsyncEncryptingWriter`), so the event loop keeps reading.

The client's filename is checked (no folder separators, no ``..``, no control
characters, at most 255 UTF-8 bytes) and then kept only inside the sealed metadata.
Rejected names get a 400 that does not repeat the name.

A file is judged by its first bytes (:func:`api.ingress.filetypes.judge`), never by its
name or claimed type: the detected type is stored, and only a refused type (a program, by
default) stops the request, as soon as those bytes are in.

:class:`FileBatch` remembers every blob a request wrote so that a failure anywhere
(a later file, the JSON, the database) deletes them all.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from api.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from api.ingress import filetypes
from api.ingress.multipart import PartInfo, mb
from api.storage.base import BlobStorage, BlobWriter, generate_name
from crypto import AsyncEncryptingWriter, DataKey

ATTACHMENT_KIND = "a"
# Records of 256 KiB rather than crypto.stream's 1 MiB default: each upload in flight
# holds one record of plaintext, so hundreds of slow phone uploads stay within tens of
# MiB; the 16-byte tag per record is still negligible (0.006 %).
RECORD_SIZE = 256 * 1024
MAX_FILENAME_BYTES = 255


class BadFilename(BadRequest):
    code = "bad_filename"
    default_message = (
        "A file name may not contain folder separators (/ or \\), '..', or control "
        "characters, and must be shorter than 255 bytes. Rename the file and try again."
    )


class TypeMismatch(UnsupportedMediaType):
    """A file refused for what its bytes are (the name this error has had since files
    were refused for contradicting their claimed type)."""

    code = "file_type_mismatch"
    default_message = "A file of this type is not accepted."


class FileTypeRefused(TypeMismatch):
    """A file whose detected type is refused (:func:`api.ingress.filetypes.judge`).

    The message names the file by its number only (an error never carries a filename);
    the page that shows it to the person who sent it names the file from ``filename``.
    """

    code = "file_type_refused"

    def __init__(self, number: int, filename: str, verdict: filetypes.Verdict) -> None:
        what = "a program" if verdict.refused == filetypes.PROGRAM else "of a type"
        super().__init__(
            f"File number {number} is {what} ({verdict.media_type}) that is not accepted. "
            "Nothing was saved; send the others without it.",
            details={"file": number, "detected_type": verdict.media_type,
                     "reason": verdict.refused},
        )
        self.number = number
        self.filename = filename
        self.verdict = verdict


def check_filename(raw: str | None) -> str:
    """Return the NFC-normalised client filename or raise :class:`BadFilename`."""
    if raw is None:
        return ""
    name = unicodedata.normalize("NFC", raw)
    if (
        "/" in name
        or "\\" in name
        or name in (".", "..")
        # Cc: control characters; Cf: invisible format characters such as the
        # right-to-left override used to disguise "gpj.exe" as "exe.jpg".
        or any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name)
        or len(name.encode("utf-8")) > MAX_FILENAME_BYTES
    ):
        raise BadFilename()
    return name


@dataclass
class ReceivedFile:
    """A file fully written as ciphertext; its key is still only in memory."""

    attachment_id: uuid.UUID
    blob_name: str
    file_key: DataKey
    filename: str
    claimed_type: str
    detected_type: str
    size: int
    sha256: str
    ciphertext_size: int

    def metadata(self) -> dict[str, Any]:
        """Sealed with the case key into ``attachment.sealed_metadata``."""
        return {
            "filename": self.filename,
            "claimed_type": self.claimed_type,
            "detected_type": self.detected_type,
            "size": self.size,
            "sha256": self.sha256,
        }

    def __repr__(self) -> str:
        return f"ReceivedFile({self.attachment_id}, size={self.size})"


@dataclass
class FileLimits:
    max_file_bytes: int
    max_files: int
    # Detected types refused (settings.refused_file_types).
    refused_types: frozenset[str] = filetypes.REFUSED_BY_DEFAULT

    def judge(self, number: int, filename: str, head: bytes) -> filetypes.Verdict:
        """The file's verdict; raises :class:`FileTypeRefused` for a refused type."""
        verdict = filetypes.judge(head, self.refused_types)
        if not verdict.accepted:
            raise FileTypeRefused(number, filename, verdict)
        return verdict


@dataclass
class FileBatch:
    """The files of one request; :meth:`discard` deletes every blob written so far."""

    storage: BlobStorage
    limits: FileLimits
    files: list[ReceivedFile] = field(default_factory=list)
    started: int = 0

    def count_new_file(self) -> int:
        self.started += 1
        if self.started > self.limits.max_files:
            raise PayloadTooLarge(
                f"Too many files: at most {self.limits.max_files} files can be sent with one "
                "submission. Nothing was saved; send the rest as an addition later."
            )
        return self.started

    def check_file_size(self, number: int, size_so_far: int) -> None:
        """Called as bytes arrive, so an oversize file is refused before it is all read."""
        if size_so_far > self.limits.max_file_bytes:
            raise PayloadTooLarge(
                f"File number {number} is larger than the limit of "
                f"{mb(self.limits.max_file_bytes)} per file. Nothing was saved."
            )

    def discard_sync(self) -> None:
        while self.files:
            self.storage.delete(self.files.pop().blob_name)

    async def discard(self) -> None:
        if self.files:
            await anyio.to_thread.run_sync(self.discard_sync)


class EncryptedFileSink:
    """One file part: sniff, hash, encrypt and store as it arrives."""

    def __init__(self, batch: FileBatch, info: PartInfo, number: int) -> None:
        self._batch = batch
        self._number = number
        self._filename = check_filename(info.filename)
        self._claimed = filetypes.normalise_claim(info.content_type)
        self._id = uuid.uuid4()
        self._key = DataKey.generate()
        self._blob: BlobWriter = batch.storage.open_writer(generate_name(ATTACHMENT_KIND))
        self._writer = AsyncEncryptingWriter.create(
            self._blob, self._id.bytes, self._key, RECORD_SIZE
        )
        self._head = bytearray()
        self._detected: str | None = None
        self._size = 0

    def _sniff(self, final: bool) -> None:
        # Judged as soon as the first bytes are in, so a refused file costs one window.
        if self._detected is None and (final or len(self._head) >= filetypes.SNIFF_BYTES):
            head = bytes(self._head[: filetypes.SNIFF_BYTES])
            self._detected = self._batch.limits.judge(self._number, self._filename,
                                                      head).media_type
            self._head = bytearray()

    async def write(self, data: bytes, /) -> None:
        self._size += len(data)
        self._batch.check_file_size(self._number, self._size)
        if self._detected is None:
            self._head += data[: filetypes.SNIFF_BYTES]
            self._sniff(final=False)
        await self._writer.write(data)

    async def close(self) -> None:
        self._sniff(final=True)
        result = await self._writer.finish()
        stored = await anyio.to_thread.run_sync(self._blob.commit)
        assert result.sha256 is not None and stored == result.ciphertext_size
        self._batch.files.append(
            ReceivedFile(
                attachment_id=self._id,
                blob_name=self._blob.name,
                file_key=self._key,
                filename=self._filename,
                claimed_type=self._claimed,
                detected_type=self._detected or filetypes.OCTET,
                size=result.plaintext_size,
                sha256=result.sha256,
                ciphertext_size=result.ciphertext_size,
            )
        )

    def abort(self) -> None:
        self._writer.abort()
        self._blob.abort()


class DiscardingFileSink:
    """Reads and hashes a file without storing it (the honeypot path)."""

    def __init__(self, batch: FileBatch, info: PartInfo, number: int) -> None:
        self._batch = batch
        self._number = number
        self._filename = check_filename(info.filename)
        self._hash = hashlib.sha256()
        self._size = 0
        self._head = b""
        self.out: dict[str, Any] | None = None

    async def write(self, data: bytes, /) -> None:
        self._size += len(data)
        self._batch.check_file_size(self._number, self._size)
        if len(self._head) < filetypes.SNIFF_BYTES:
            self._head += data[: filetypes.SNIFF_BYTES]
            if len(self._head) >= filetypes.SNIFF_BYTES:
                self._judge()
        self._hash.update(data)

    def _judge(self) -> str:
        # Refused as a real file would be, at the same moment: the answer must look real.
        head = self._head[: filetypes.SNIFF_BYTES]
        return self._batch.limits.judge(self._number, self._filename, head).media_type

    async def close(self) -> None:
        self.out = {"name": self._filename, "size": self._size,
                    "sha256": self._hash.hexdigest(), "type": self._judge()}

    def abort(self) -> None:
        self._head = b""
