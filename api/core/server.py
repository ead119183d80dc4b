"""The HTTP protocol ``dokaz serve`` runs: uvicorn's httptools protocol plus a header timeout.

uvicorn has no limit on how long a client may take to send its request headers: a
client trickling one byte a second ("slowloris") holds a connection, and enough of them
exhaust the server. This protocol starts a timer when a connection opens and whenever a
new request begins, and closes the connection if the headers are not complete within
``DOKAZ_HEADER_TIMEOUT_SECONDS``. The same protocol caps the size of the request line and
headers at ``DOKAZ_MAX_HEADER_BYTES`` (uvicorn's own cap applies only to its h11 protocol),
answering 431. Bodies are not affected: a slow upload over Tor may take
hours and is bounded by ``DOKAZ_REQUEST_BODY_TIMEOUT_SECONDS`` in the intake guards.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.core.settings import get_settings

_MESSAGE = b"The request headers are larger than this server accepts."
_HEADERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\n"
    b"content-length: " + str(len(_MESSAGE)).encode() + b"\r\n\r\n" + _MESSAGE
)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._header_timeout = settings.header_timeout_seconds
        self._max_header_bytes = settings.max_header_bytes
        self._header_timer: asyncio.TimerHandle | None = None
        self._in_headers = True
        self._header_bytes = 0
        self._header_tail = b""

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self._header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            # Count only up to the blank line that ends the headers: the same chunk often
            # carries tens of KiB of body behind them (httpx sends both in one write).
            window = self._header_tail + data
            end = window.find(b"\r\n\r\n")
            self._header_bytes += (len(data) if end < 0
                                   else max(0, end + 4 - len(self._header_tail)))
            self._header_tail = window[-3:]
            if self._header_bytes > self._max_header_bytes:
                self._disarm_header_timer()
                self.transport.write(_HEADERS_TOO_LARGE)
                self.transport.close()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True
        self._header_bytes = 0
        self._header_tail = b""
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._header_tail = b""
        self._disarm_header_timer()
        super().on_headers_complete()
