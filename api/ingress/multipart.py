"""Streaming ``multipart/form-data`` parsing of a request body, bytes in, events out.

Built on ``python_multipart``'s push parser (fast and robust on hostile input, see
performance-notes.md) and driven by ``request.stream()``: nothing is spooled to disk and
memory use is one network chunk plus whatever the part sinks hold. Starlette's
``UploadFile``/``request.form()`` are never used, because they write plaintext to
temporary files (threat model property 4).

Usage (the JSON API and the server-rendered form both do this)::

    await parse_multipart(request.stream(), request.headers["content-type"],
                          handler, MultipartLimits(...))

``handler.open_part(PartInfo)`` returns a :class:`PartSink` per part; the parser calls
``write`` with the part's bytes as they arrive and ``close`` when the part ends. If
anything fails - a limit, malformed input, the client going away, the handler itself -
the open sink's ``abort()`` is called and the error propagates; sinks closed earlier
are the handler's to undo (see :class:`api.ingress.files.FileBatch`).

Limits enforced while bytes arrive: the whole body (413), the number of parts (413),
header lines per part and their size (400). Malformed bodies, a missing boundary and a
body that ends before the closing boundary are 400s. Messages never echo input.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from api.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

MB = 1024 * 1024


def mb(n: int) -> str:
    """A limit in MB for messages people read (``2048 MB``, ``0.5 MB``)."""
    value = n / MB
    return f"{value:.0f} MB" if value >= 1 else f"{value:.2g} MB"


class MalformedBody(BadRequest):
    code = "malformed_body"
    default_message = (
        "The upload could not be read: the form data is malformed or incomplete. "
        "Nothing was saved; please try again."
    )


@dataclass(frozen=True)
class PartInfo:
    name: str
    filename: str | None
    content_type: str | None


class PartSink(Protocol):
    async def write(self, data: bytes, /) -> None: ...

    async def close(self) -> None: ...

    def abort(self) -> None: ...


class MultipartHandler(Protocol):
    async def open_part(self, info: PartInfo, /) -> PartSink: ...


@dataclass(frozen=True)
class MultipartLimits:
    max_body_bytes: int
    max_parts: int = 64
    max_headers_per_part: int = 8
    max_header_bytes: int = 4096


def boundary_of(content_type: str | None) -> bytes:
    ctype, options = parse_options_header(content_type or "")
    if ctype != b"multipart/form-data":
        raise UnsupportedMediaType("Send multipart/form-data or application/json.")
    boundary = options.get(b"boundary", b"")
    if not 1 <= len(boundary) <= 70:
        raise MalformedBody("The multipart boundary is missing or invalid.")
    return boundary


def _decode_header(raw: bytes) -> str:
    # RFC 7578: field names and filenames are UTF-8 in practice (browsers, curl).
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("A part header is not valid UTF-8.") from None


class _Collector:
    """Turns python_multipart's synchronous callbacks into a list of events."""

    def __init__(self, limits: MultipartLimits) -> None:
        self.events: list[tuple[str, Any]] = []
        self.limits = limits
        self.field = bytearray()
        self.value = bytearray()
        self.headers: dict[str, bytes] = {}
        self.data = bytearray()
        self.ended = False

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self.headers = {}
        self.field.clear()
        self.value.clear()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]
        if len(self.value) > self.limits.max_header_bytes:
            raise MalformedBody("A part header is too long.")

    def _header_end(self) -> None:
        self.headers[bytes(self.field).decode("latin-1").lower()] = bytes(self.value)
        self.field.clear()
        self.value.clear()

    def _headers_finished(self) -> None:
        self._flush_data()
        _, disposition = parse_options_header(self.headers.get("content-disposition", b""))
        name = disposition.get(b"name")
        if name is None:
            raise MalformedBody("A part has no field name.")
        filename = disposition.get(b"filename")
        ctype = self.headers.get("content-type")
        self.events.append((
            "begin",
            PartInfo(
                name=_decode_header(name),
                filename=_decode_header(filename) if filename is not None else None,
                content_type=_decode_header(ctype) if ctype is not None else None,
            ),
        ))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        # The parser reports data in pieces split at every CR it meets (in binary files,
        # every ~256 bytes); coalesce them so each chunk costs one write, not hundreds.
        if end > start:
            self.data += data[start:end]

    def take_events(self) -> list[tuple[str, Any]]:
        self._flush_data()
        events, self.events = self.events, []
        return events

    def _flush_data(self) -> None:
        if self.data:
            self.events.append(("data", bytes(self.data)))
            self.data.clear()

    def _part_end(self) -> None:
        self._flush_data()
        self.events.append(("end", None))

    def _end(self) -> None:
        self.ended = True


async def parse_multipart(
    chunks: AsyncIterable[bytes],
    content_type: str | None,
    handler: MultipartHandler,
    limits: MultipartLimits,
) -> None:
    boundary = boundary_of(content_type)
    collector = _Collector(limits)
    parser = MultipartParser(
        boundary,
        collector.callbacks(),  # type: ignore[arg-type]
        max_header_count=limits.max_headers_per_part,
        max_header_size=limits.max_header_bytes,
    )
    received = 0
    parts = 0
    sink: PartSink | None = None
    try:
        async for chunk in chunks:
            if not chunk:
                continue
            received += len(chunk)
            if received > limits.max_body_bytes:
                raise PayloadTooLarge(
                    f"The upload is larger than the limit of {mb(limits.max_body_bytes)} "
                    "for one submission. Nothing was saved; send fewer or smaller files, "
                    "or use resumable uploads."
                )
            try:
                parser.write(chunk)
            except FormParserError:
                raise MalformedBody() from None
            for kind, payload in collector.take_events():
                if kind == "data":
                    if sink is None:  # pragma: no cover - the parser orders events
                        raise MalformedBody()
                    await sink.write(payload)
                elif kind == "begin":
                    parts += 1
                    if parts > limits.max_parts:
                        raise PayloadTooLarge(
                            f"The form has more than {limits.max_parts} parts."
                        )
                    sink = await handler.open_part(payload)
                elif kind == "end" and sink is not None:
                    await sink.close()  # if close() fails, the sink is aborted below
                    sink = None
        if not collector.ended:
            raise MalformedBody(
                "The upload ended before it was complete (the connection may have dropped). "
                "Nothing was saved; please try again."
            )
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
