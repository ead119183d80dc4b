"""ASGI middleware that makes the submitter's network identity invisible to the app.

It runs outermost, before routing. It removes the peer address from the ASGI scope and
drops headers that identify a client (user agent, forwarding headers). What remains is an
opaque ``client_tag``: an HMAC of the address under a key generated at process start and
kept only in memory, so per-client rate limits work within one process while nothing that
could identify a person is ever stored, logged or comparable across restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.logging import (
    coarse_times_for,
    end_coarse_times,
    install_coarse_record_times,
    route_template,
)

IDENTIFYING_HEADERS = frozenset(
    {
        b"user-agent",
        b"x-forwarded-for",
        b"x-real-ip",
        b"forwarded",
        b"cf-connecting-ip",
        b"true-client-ip",
        b"x-client-ip",
        b"x-cluster-client-ip",
        b"via",
    }
)

access_log = logging.getLogger("dokaz.access")


class ClientAnonymityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._key = secrets.token_bytes(32)  # never leaves this process
        install_coarse_record_times()

    def client_tag(self, scope: Scope) -> str:
        client = scope.get("client")
        host = client[0] if client else "unknown"
        return hmac.new(self._key, host.encode(), hashlib.sha256).hexdigest()[:32]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        tag = self.client_tag(scope)
        # In place, not a copy: the error middleware outside this one then sees the same
        # anonymous request, and the route the router matches (for its log line).
        scope["client"] = None
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k not in IDENTIFYING_HEADERS]
        state: dict[str, Any] = dict(scope.get("state") or {})
        state["client_tag"] = tag
        scope["state"] = state

        # Minute-precision log times for everything this public request logs (property 13).
        coarse = coarse_times_for(str(scope.get("path", "")))
        started = time.perf_counter()
        status_holder = {"status": 0}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = int(message["status"])
            await send(message)

        failed = True
        try:
            await self.app(scope, receive, send_wrapper)
            failed = False
        finally:
            access_log.info(
                "request",
                extra={
                    "method": scope.get("method", ""),
                    "route": route_template(scope),
                    "status": status_holder["status"],
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            if not failed:
                end_coarse_times(coarse)
            # Else coarse times stay on: the lines logged about this failure further out
            # (the error handler in Starlette's outermost middleware, uvicorn) belong to
            # this request, and the request's task ends with it.
