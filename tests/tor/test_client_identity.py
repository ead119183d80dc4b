"""DOKAZ_CLIENT_IDENTITY in the privacy middleware: what client tag each mode gives the app,
and that nothing identifying (peer address, PROXY identity) reaches it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from api.core.privacy import (
    PROXY_IDENTITY_SCOPE_KEY,
    ClientAnonymityMiddleware,
    client_identity_mode,
)
from api.core.server import HeaderTimeoutProtocol, ProxyHeaderProtocol, http_protocol
from api.core.settings import ClientIdentitySetting, Settings
from api.core.surfaces import Surface, client_identity_for


class Capture:
    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(dict(scope))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def run(middleware: ClientAnonymityMiddleware, **extra: Any) -> None:
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/healthz",
                             "headers": [(b"user-agent", b"x")],
                             "client": ("203.0.113.9", 4242), **extra}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    asyncio.run(middleware(scope, receive, send))


def served(identity: ClientIdentitySetting, *requests: dict[str, Any]) -> list[Scope]:
    app = Capture()
    middleware = ClientAnonymityMiddleware(app, identity=identity)
    for extra in requests:
        run(middleware, **extra)
    return app.scopes


def state(scope: Scope) -> tuple[Any, Any]:
    request = Request(scope)
    return request.state.client_tag, client_identity_mode(request)


def test_address_mode_is_todays_behaviour() -> None:
    one, same, other = served("address", {}, {}, {"client": ("198.51.100.1", 1)})
    tag, mode = state(one)
    assert mode == "address"
    assert isinstance(tag, str) and len(tag) == 32 and "203.0.113.9" not in tag
    assert tag.startswith("a:")  # an address tag: it never leaves process memory
    assert state(same)[0] == tag
    assert state(other)[0] != tag
    assert one["client"] is None
    assert all(k != b"user-agent" for k, _ in one["headers"])


def test_address_mode_ignores_a_proxy_identity_in_the_scope() -> None:
    (scope,) = served("address", {PROXY_IDENTITY_SCOPE_KEY: "circuit:7"})
    assert state(scope)[1] == "address"
    assert PROXY_IDENTITY_SCOPE_KEY not in scope


def test_proxy_protocol_mode_keys_on_the_circuit() -> None:
    a1, a2, b, addr = served(
        "proxy-protocol",
        {PROXY_IDENTITY_SCOPE_KEY: "circuit:39"},
        {PROXY_IDENTITY_SCOPE_KEY: "circuit:39", "client": ("127.0.0.1", 5)},
        {PROXY_IDENTITY_SCOPE_KEY: "circuit:40"},
        {PROXY_IDENTITY_SCOPE_KEY: "address:192.0.2.1"},
    )
    tag, mode = state(a1)
    # The tag is "c:" + an HMAC in hex: the circuit id itself is not in it (a random hex
    # digest may contain the digits "39", so look for the id as the identity names it).
    assert mode == "circuit" and isinstance(tag, str) and tag.startswith("c:")
    assert "circuit" not in tag and tag not in ("c:39", "c:circuit:39")
    assert len(tag) > len("c:") + 16
    assert state(a2) == (tag, "circuit")  # the peer address plays no part
    assert state(b)[0] != tag
    assert state(addr)[1] == "address"
    for scope in (a1, a2, b, addr):
        assert scope["client"] is None
        assert PROXY_IDENTITY_SCOPE_KEY not in scope


@pytest.mark.parametrize("extra", [{}, {PROXY_IDENTITY_SCOPE_KEY: None}])
def test_proxy_protocol_mode_without_a_header_identity_has_none(extra: dict[str, Any]) -> None:
    # A header of UNKNOWN, or a scope that did not come through the PROXY protocol: the
    # peer address is never used instead (it is the proxy, shared by everyone).
    (scope,) = served("proxy-protocol", extra)
    assert state(scope) == (None, "none")


def test_none_mode_has_no_client_identity() -> None:
    (scope,) = served("none", {PROXY_IDENTITY_SCOPE_KEY: "circuit:1"})
    assert state(scope) == (None, "none")
    assert scope["client"] is None
    assert PROXY_IDENTITY_SCOPE_KEY not in scope


def test_a_request_outside_the_middleware_has_no_identity() -> None:
    request = Request({"type": "http", "headers": [], "state": {}})
    assert client_identity_mode(request) == "none"


def test_the_server_protocol_follows_the_setting() -> None:
    assert http_protocol("address") is HeaderTimeoutProtocol
    assert http_protocol("none") is HeaderTimeoutProtocol
    assert http_protocol("proxy-protocol") is ProxyHeaderProtocol


def test_the_proxy_header_is_for_the_public_port_only() -> None:
    proxied = Settings(client_identity="proxy-protocol")
    assert client_identity_for(proxied, Surface.PUBLIC) == "proxy-protocol"
    assert client_identity_for(proxied, Surface.ALL) == "proxy-protocol"
    # The staff onion service writes no header: its clients are told apart by address.
    assert client_identity_for(proxied, Surface.STAFF) == "address"
    assert http_protocol(client_identity_for(proxied, Surface.STAFF)) is HeaderTimeoutProtocol
    hidden = Settings(client_identity="none")
    assert client_identity_for(hidden, Surface.STAFF) == "none"
