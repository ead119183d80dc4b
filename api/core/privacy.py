"""ASGI middleware that makes the submitter's network identity invisible to the app.

It runs outermost, before routing. It removes the peer address from the ASGI scope and
drops headers that identify a client (user agent, forwarding headers). What remains is an
opaque ``client_tag``: an HMAC of the client's identity under a key generated at process
start and kept only in memory, so per-client rate limits work within one process while
nothing that could identify a person is ever stored, logged or comparable across restarts.

What the identity is depends on ``DOKAZ_CLIENT_IDENTITY`` (see docs/deployment-tor.md):

* ``address``: the TCP peer address;
* ``proxy-protocol``: what the PROXY header of the connection named, put into the scope
  under :data:`PROXY_IDENTITY_SCOPE_KEY` by the connection protocol
  (:mod:`api.core.server`): a Tor circuit, or the address a load balancer forwarded;
* ``none``: nothing.

The contract with everything inside (the admission guards): ``request.state.client_tag``
is a string, or None when there is no per-client identity, and
``request.state.client_identity`` (read it with :func:`client_identity_mode`) says which:
``"address"``, ``"circuit"`` or ``"none"``. With ``"none"`` no per-client limit may
apply: the only thing all such requests share is the proxy in front of them, and a limit
keyed on it would let one client shut out everyone.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from typing import Any, Literal

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.logging import (
    coarse_times_for,
    end_coarse_times,
    install_coarse_record_times,
    route_template,
)
from api.core.settings import ClientIdentitySetting

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

ClientIdentityMode = Literal["address", "circuit", "none"]

# Set by the PROXY protocol connection (api.core.server) on every request's scope: the
# identity string its header named (api.core.proxy_protocol.client_identity), or None.
# The middleware below removes it, like the peer address, before the app runs.
PROXY_IDENTITY_SCOPE_KEY = "dokaz.proxy_identity"


def client_identity_mode(conn: HTTPConnection) -> ClientIdentityMode:
    """What this request's ``client_tag`` was derived from; ``"none"``: there is no
    per-client identity (``client_tag`` is None) and per-client limits must not apply."""
    mode = getattr(conn.state, "client_identity", "none")
    if mode == "address":
        return "address"
    return "circuit" if mode == "circuit" else "none"


class ClientAnonymityMiddleware:
    def __init__(self, app: ASGIApp, identity: ClientIdentitySetting = "address",
                 circuit_key: bytes | None = None) -> None:
        self.app = app
        self.identity = identity
        self._key = secrets.token_bytes(32)  # for addresses: never leaves this process
        # For Tor circuits: the key the API processes share (api.core.shared), so that one
        # circuit is one client whichever process it reaches. Per process without Redis.
        self._circuit_key = circuit_key or secrets.token_bytes(32)
        install_coarse_record_times()

    def _hmac(self, value: str, *, circuit: bool = False) -> str:
        """The tag: "c:" or "a:" (what it was derived from; only "c:" tags may be shared,
        api.core.ratelimit), then an HMAC of the identity."""
        key, kind = (self._circuit_key, "c:") if circuit else (self._key, "a:")
        return kind + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:30]

    def identify(self, scope: Scope) -> tuple[str | None, ClientIdentityMode]:
        """(client tag or None, what it was derived from) for this request."""
        if self.identity == "address":
            client = scope.get("client")
            return self._hmac(client[0] if client else "unknown"), "address"
        if self.identity == "proxy-protocol":
            # Only what the connection protocol read from a verified header counts; a
            # scope without it (another server in front of the app) has no identity.
            named = scope.get(PROXY_IDENTITY_SCOPE_KEY)
            if isinstance(named, str) and named:
                kind: ClientIdentityMode = (
                    "circuit" if named.startswith("circuit:") else "address")
                return self._hmac(named, circuit=kind == "circuit"), kind
        return None, "none"

    def client_tag(self, scope: Scope) -> str | None:
        return self.identify(scope)[0]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        tag, mode = self.identify(scope)
        # In place, not a copy: the error middleware outside this one then sees the same
        # anonymous request, and the route the router matches (for its log line).
        scope["client"] = None
        scope.pop(PROXY_IDENTITY_SCOPE_KEY, None)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k not in IDENTIFYING_HEADERS]
        state: dict[str, Any] = dict(scope.get("state") or {})
        state["client_tag"] = tag
        state["client_identity"] = mode
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
