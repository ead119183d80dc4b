"""Reading a form post from a browser: text fields kept, file parts encrypted as they arrive.

It reads the body its door admitted (:mod:`api.ingress.admit`) with the ingress streaming
parser (:func:`api.ingress.multipart.parse_multipart`) and file sinks
(:class:`api.ingress.files.EncryptedFileSink`); it only decides, part by part, what to do
with each:

* ``csrf`` must be the first part. Its token is checked the moment that part ends, before
  any file byte is read: a bad token switches every later file part to a sink that drops
  the bytes (nothing hashed, encrypted or stored), while the text fields are still read so
  the page can give the person their text back.
* Text parts are kept in memory, each bounded, all together bounded.
* At the first file part every text field has arrived (the form puts files last), so the
  form is validated there: if it has errors, or the honeypot is filled, the files are
  dropped rather than encrypted and stored for nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import anyio
from starlette.requests import Request

from api.core.errors import BadRequest, DokazError, PayloadTooLarge, UnsupportedMediaType
from api.core.settings import Settings
from api.ingress.admit import Admission
from api.ingress.body import media_type
from api.ingress.files import DiscardingFileSink, EncryptedFileSink, FileBatch
from api.ingress.multipart import PartInfo, PartSink, parse_multipart
from api.intake.service import IntakeContext
from api.web import csrf

HONEYPOT_FIELD = "website"
DRAIN_BYTES = 32 * 1024 * 1024
# The most text parts the report form can send: its fields plus one per checkbox of the
# longest multiple choice (consent), with room to spare. Files are counted separately,
# so the form takes exactly as many files as DOKAZ_MAX_FILES_PER_SUBMISSION promises.
MAX_FORM_TEXT_PARTS = 64


class TextTooLong(PayloadTooLarge):
    """A text field ran past its limit while it arrived; names the field for the page."""

    def __init__(self, field: str) -> None:
        super().__init__("A text field is longer than allowed.")
        self.field = field


class _TextSink:
    def __init__(self, form: ReceivedForm, name: str, limit: int) -> None:
        self._form = form
        self._name = name
        self._limit = limit
        self._buf = bytearray()

    async def write(self, data: bytes, /) -> None:
        self._buf += data
        self._form.text_bytes += len(data)
        if len(self._buf) > self._limit or self._form.text_bytes > self._form.max_text_bytes:
            raise TextTooLong(self._name)

    async def close(self) -> None:
        text = self._buf.decode("utf-8", errors="replace").replace("\r\n", "\n")
        self._form.fields.append((self._name, text))
        if self._name == csrf.FIELD and len(self._form.fields) == 1:
            self._form.on_csrf(text)

    def abort(self) -> None:
        self._buf.clear()


class _DroppingSink:
    """Reads a file part and forgets it: nothing is hashed, encrypted or stored."""

    def __init__(self, form: ReceivedForm, counts: bool = True) -> None:
        self._form = form
        self._counts = counts

    async def write(self, data: bytes, /) -> None:
        return None

    async def close(self) -> None:
        if self._counts:
            self._form.dropped_files += 1

    def abort(self) -> None:
        return None


@dataclass
class ReceivedForm:
    """Everything a browser sent in one form post, files already stored as ciphertext."""

    settings: Settings
    request: Request
    batch: FileBatch
    max_text_bytes: int
    text_limit: int
    # Called at the first file part; True means "keep the files".
    accept_files: Callable[[ReceivedForm], Awaitable[bool]] | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    text_bytes: int = 0
    csrf_problem: csrf.CsrfProblem | None = csrf.CsrfProblem.MISSING
    dropped_files: int = 0
    # A problem met after the text fields arrived (a file too large, of the wrong type).
    error: DokazError | None = None
    # Honeypot files: read and hashed like real ones (the answer must look real), not kept.
    discarded: list[DiscardingFileSink] = field(default_factory=list)
    _files_decided: bool | None = None

    def on_csrf(self, token: str) -> None:
        self.csrf_problem = csrf.check_token(
            self.settings.secret_key.get_secret_value(),
            self.request.cookies.get(csrf.COOKIE), token,
            self.settings.web_form_token_hours * 3600,
        )

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.fields:
            if key == name:
                return value
        return default

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]

    @property
    def lang(self) -> str | None:
        return self.get("lang") or None

    @property
    def honeypot_filled(self) -> bool:
        return bool(self.get(HONEYPOT_FIELD).strip())

    @property
    def files(self) -> list[object]:
        return list(self.batch.files)

    @property
    def had_files(self) -> bool:
        return bool(self.batch.files) or self.dropped_files > 0 or bool(self.discarded)

    async def open_part(self, info: PartInfo, /) -> PartSink:
        if info.filename is None:
            if self._files_decided is not None:
                # A text field after the files: not how our pages send forms.
                return _DroppingSink(self)
            return _TextSink(self, info.name, self.text_limit)
        if info.filename == "" and info.name:
            # An empty file input: browsers send an empty part with filename="".
            return _DroppingSink(self, counts=False)
        if self._files_decided is None:
            self._files_decided = self.csrf_problem is None and (
                self.accept_files is None or await self.accept_files(self))
        number = self.batch.count_new_file()
        if self.honeypot_filled:
            sink = DiscardingFileSink(self.batch, info, number)
            self.discarded.append(sink)
            return sink
        if not self._files_decided:
            return _DroppingSink(self)
        return EncryptedFileSink(self.batch, info, number)

    async def discard(self) -> None:
        await self.batch.discard()


async def receive_form(
    request: Request, admitted: Admission[None], ctx: IntakeContext,
    accept_files: Callable[[ReceivedForm], Awaitable[bool]] | None = None,
) -> ReceivedForm:
    """Read a multipart form post; the caller owns the stored files afterwards.

    Raises its door's refusal, or the intake feature's errors (413, 400, timeouts), with
    nothing kept.
    """
    settings = ctx.settings
    body = admitted.stream()
    text_limit = settings.web_max_text_chars * 4  # UTF-8: at most 4 bytes a character
    form = ReceivedForm(
        settings=settings, request=request, batch=FileBatch(ctx.storage, ctx.file_limits()),
        max_text_bytes=text_limit * 2, text_limit=text_limit, accept_files=accept_files,
    )
    read = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal read
        async for chunk in body:
            read += len(chunk)
            yield chunk

    try:
        limits = dataclasses.replace(
            ctx.multipart_limits(),
            max_parts=settings.max_files_per_submission + MAX_FORM_TEXT_PARTS,
        )
        await parse_multipart(counted(), admitted.content_type, form, limits)
    except DokazError as exc:
        await form.discard()
        if not form.fields:
            raise
        # The text arrived before the problem (files come last): keep it for the page.
        form.error = exc
        length = admitted.content_length
        if length is not None and read < length:
            await drain(request, min(DRAIN_BYTES, length - read))
    except BaseException:
        await form.discard()
        raise
    return form


async def drain(request: Request, limit: int = DRAIN_BYTES, seconds: float = 10.0) -> None:
    """Read and drop a little more of an abandoned body.

    A browser still sending when the server answers and closes often shows "connection
    reset" instead of the answer. Reading a bounded amount more lets a body that was
    only slightly too large end normally, so the person sees the explanation.
    """
    received = 0
    with anyio.move_on_after(seconds):
        while received < limit:
            message = await request.receive()
            if message["type"] != "http.request":
                return
            received += len(message.get("body", b""))
            if not message.get("more_body", False):
                return


class SmallForm:
    """An ``application/x-www-form-urlencoded`` post (login, message): no files."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.pairs:
            if key == name:
                return value.replace("\r\n", "\n")
        return default


async def read_small_form(admitted: Admission[None]) -> SmallForm:
    """Read a small urlencoded form, bounded while the bytes arrive (413 past the bound)."""
    admitted.check()
    settings = admitted.settings
    if media_type(admitted.content_type) != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("This page accepts only its own form.")
    # Percent-encoding can triple a character's UTF-8 bytes.
    limit = settings.web_max_text_chars * 12 + 64 * 1024
    body = bytearray()
    async for chunk in admitted.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge("The form is larger than allowed.")
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, max_num_fields=32,
                          strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("The form could not be read.") from None
    return SmallForm(pairs)
