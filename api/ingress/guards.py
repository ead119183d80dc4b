"""Abuse resistance without JavaScript or third parties: the guards :mod:`api.ingress.admit`
runs for every public door, in the order its table declares.

* Rate limits are keyed by :func:`client_tag`, the one place a client is identified
  (``request.state.client_tag``, :mod:`api.core.privacy`): an HMAC of the peer address
  under a per-process key, or of the Tor circuit under a key the processes share.
  Address-keyed counts live only in this process's memory (never written anywhere);
  with ``DOKAZ_REDIS_URL`` the global budget and the circuit-keyed counts live in Redis,
  so they hold across every API process (:mod:`api.core.shared`). Without a client
  identity (``none``) no per-client limit applies.
* A global intake rate answers 503 "temporarily unavailable", so a flood cannot starve
  the people behind it; the upload slots and the disk reservation a body holds while it
  streams are in :mod:`api.ingress.inflight`.
* Request bodies are read with a deadline (``request_body_timeout_seconds``), request
  headers are bounded (``max_header_bytes``), and every size limit is enforced while
  bytes arrive (see :mod:`api.ingress.multipart`); bodies must also keep a minimum data rate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio
from fastapi import Request
from redis import Redis
from starlette.requests import ClientDisconnect

from api.core.dependencies import service
from api.core.errors import (
    BadRequest,
    DokazError,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
)
from api.core.ratelimit import SharedSlidingWindow, SlidingWindow
from api.core.settings import Settings
from api.ingress.inflight import InFlight
from api.ingress.multipart import mb

TUS_VERSION = "1.0.0"
TEMPORARILY_UNAVAILABLE = (
    "Submissions are temporarily unavailable. Nothing was saved; please try again in a "
    "little while."
)


GLOBAL = "global"  # the key of a budget everyone shares


class BodyTimeout(DokazError):
    status_code = 408
    code = "request_timeout"
    default_message = (
        "The upload took too long and was stopped. Nothing was saved; for large files on a "
        "slow connection, use resumable uploads."
    )


class BodyTooSlow(BodyTimeout):
    default_message = (
        "The upload arrived too slowly and was stopped. Nothing was saved; please try "
        "again, or use resumable uploads, which keep what already arrived."
    )


class ConnectionDropped(DokazError):
    status_code = 400
    code = "connection_dropped"
    default_message = (
        "The upload ended before it was complete (the connection dropped). Nothing was "
        "saved; please try again."
    )


class HeadersTooLarge(DokazError):
    status_code = 431
    code = "headers_too_large"
    default_message = "The request headers are too large."


class TusVersionUnsupported(DokazError):
    status_code = 412
    code = "tus_version_unsupported"
    default_message = "Send Tus-Resumable: 1.0.0 (the only tus version this server speaks)."


class ConcatenationNotOffered(DokazError):
    status_code = 501
    code = "tus_concatenation_not_offered"
    default_message = (
        "This server does not offer tus concatenation (Upload-Concat): upload the file as "
        "one upload, in as many PATCH requests as you like."
    )


@dataclass
class Guards:
    per_client: SlidingWindow
    global_rate: SlidingWindow
    uploads_per_client: SlidingWindow
    receipt_failures_per_client: SlidingWindow
    inflight: InFlight  # upload slots and disk reservations (api.ingress.inflight)
    extra: dict[str, SlidingWindow] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis | None = None) -> Guards:
        """The guards; with ``redis`` the global budget and the circuit-keyed counters hold
        across every API process (address-keyed ones stay in memory: api.core.shared)."""

        def window(name: str, limit: int, seconds: float,
                   shared_keys: frozenset[str] = frozenset()) -> SlidingWindow:
            return SharedSlidingWindow(limit, seconds, redis=redis, name=name,
                                       prefix=settings.redis_key_prefix,
                                       shared_keys=shared_keys)

        return cls(
            per_client=window("intake-client", settings.intake_rate_per_client_per_hour, 3600),
            global_rate=window("intake-global", settings.intake_rate_global_per_minute, 60,
                               frozenset({GLOBAL})),
            uploads_per_client=window(
                "uploads-client", settings.intake_rate_per_client_per_hour
                * max(1, settings.max_files_per_submission), 3600
            ),
            receipt_failures_per_client=window(
                "receipt-failures-client", settings.receipt_attempts_per_hour, 3600),
            inflight=InFlight.from_settings(settings, redis),
        )


def guards_for(request: Request) -> Guards:
    """The app's guards, built once with its services (they hold no data worth keeping)."""
    return service(request, "intake_guards", Guards)


def client_tag(request: Request) -> str | None:
    """Who the client is, for the rate limits: the one function that identifies one.

    None when there is no per-client identity (``DOKAZ_CLIENT_IDENTITY=none``, or a
    request that reached the app without one): then no per-client limit applies, only the
    global budgets and the per-receipt and per-account counters. A shared stand-in key
    such as "unknown" would put every genuine person into one bucket, which one abusive
    client could then empty for all of them.
    """
    tag = getattr(request.state, "client_tag", None)
    return str(tag) if tag else None


def check_headers(request: Request, settings: Settings) -> None:
    size = sum(len(k) + len(v) + 4 for k, v in request.scope.get("headers", []))
    if size > settings.max_header_bytes:
        raise HeadersTooLarge()


def check_rate(limiter: SlidingWindow, key: str | None, message: str | None = None) -> None:
    """Count one hit for ``key``; 429 once its window is full. No key, no per-client limit."""
    if key is None:
        return
    wait = limiter.hit(key)
    if wait:
        raise RateLimited(wait, message)


def check_intake_rate(guards: Guards, client: str | None) -> None:
    """The global intake rate, then the client's own: before a report's body is read."""
    wait = guards.global_rate.hit(GLOBAL)
    if wait:
        raise ServiceUnavailable(TEMPORARILY_UNAVAILABLE, retry_after=wait)
    check_rate(
        guards.per_client, client,
        "You have sent many submissions in a short time. Please wait before sending "
        "another; nothing from this request was saved.",
    )


def check_file_size(settings: Settings, length: int) -> None:
    """413 for one file over ``max_file_bytes`` (a tus creation's Upload-Length, a part)."""
    if length > settings.max_file_bytes:
        raise PayloadTooLarge(
            f"The file is larger than the limit of {mb(settings.max_file_bytes)} per file."
        )


def require_tus(request: Request) -> None:
    """tus requests name the protocol version; this server speaks only 1.0.0 (412)."""
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise TusVersionUnsupported(headers={"Tus-Version": TUS_VERSION})


def int_header(request: Request, name: str) -> int:
    raw = request.headers.get(name)
    if raw is None or not raw.isdigit() or len(raw) > 19:
        raise BadRequest(f"{name} must be given as a non-negative whole number.")
    return int(raw)


def upload_length(request: Request) -> int:
    """The length a tus creation declares (``Upload-Length``; deferring it is refused,
    and so is concatenation, 501, which a client must not take for a plain upload)."""
    if "upload-concat" in request.headers:
        raise ConcatenationNotOffered()
    if request.headers.get("upload-defer-length"):
        raise BadRequest("Upload-Defer-Length is not supported: send Upload-Length.")
    return int_header(request, "upload-length")


def content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


async def timed_stream(request: Request, settings: Settings) -> AsyncIterator[bytes]:
    """``request.stream()`` with an overall deadline and a minimum data rate.

    The whole body must arrive within ``request_body_timeout_seconds``, and every window
    of ``body_rate_window_seconds`` must bring at least ``min_body_bytes_per_window``
    bytes; otherwise 408. Without the rate, a client trickling one byte every few seconds
    would hold a connection (and a file descriptor) for the whole deadline.

    A client that goes away mid-body becomes :class:`ConnectionDropped` (a 400 nobody
    reads, but a clean one: no "unhandled error" in the logs).
    """
    deadline = anyio.current_time() + settings.request_body_timeout_seconds
    window, need = settings.body_rate_window_seconds, settings.min_body_bytes_per_window
    rate = _WindowRate(anyio.current_time() + window, window, need)
    stream = request.stream()
    while True:
        now = anyio.current_time()
        if now >= deadline:
            raise BodyTimeout()
        rate.roll(now)
        # Waiting is cut short only where the request fails anyway: a generator that was
        # cancelled mid-read is finished, so it must never be read again.
        with anyio.move_on_after(min(deadline, rate.judged_at()) - now) as scope:
            try:
                chunk = await stream.__anext__()
            except StopAsyncIteration:
                return
            except ClientDisconnect:
                raise ConnectionDropped() from None
        if scope.cancelled_caught:
            raise BodyTimeout() if anyio.current_time() >= deadline else BodyTooSlow()
        rate.roll(anyio.current_time())
        rate.got(len(chunk))
        yield chunk


@dataclass
class _WindowRate:
    """Fixed windows of ``window`` seconds from the body's start; each must bring ``need``."""

    window_end: float
    window: float
    need: int
    seen: int = 0

    def roll(self, now: float) -> None:
        """Close the windows that ended by ``now``; 408 for one that brought too little."""
        while self.need and now >= self.window_end:
            if self.seen < self.need:
                raise BodyTooSlow()
            self.window_end, self.seen = self.window_end + self.window, 0

    def got(self, n: int) -> None:
        self.seen += n

    def judged_at(self) -> float:
        """When the next verdict falls if nothing more arrives: the end of this window if
        it still lacks bytes, else the end of the next one (which starts empty)."""
        if not self.need:
            return float("inf")
        return self.window_end if self.seen < self.need else self.window_end + self.window
