"""Security headers on every response, strictest on the public pages.

The pages load nothing from another origin: one stylesheet and one optional script, both
served from ``/static``. The Content-Security-Policy says exactly that, so an injected
tag (or a compromised CDN, of which there is none) cannot load or send anything.

``Cache-Control: no-store`` is on everything, static files included: a seized phone's
browser cache must not show that its owner visited, let alone what they typed or read.
``Onion-Location`` (when an onion address is configured) lets Tor Browser offer the onion
service, which keeps the whole connection inside Tor.

A header the route set itself is kept: routes set one only to be stricter for what they
serve (an attachment download's ``Content-Security-Policy: sandbox``, which makes a
browser treat the bytes as a sandboxed, script-less origin even if they are opened
inline), and replacing it with the page policy would weaken exactly those responses.

The interactive API documentation (``/api/docs``, ``/api/redoc``, :mod:`api.apidocs`)
sets its own policy: still nothing from another origin, plus a per-response nonce for
the styles ReDoc generates.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",  # the tus client's PATCH/HEAD requests
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)

BASE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)

def onion_location(onion_address: str | None, path: str) -> bytes | None:
    if not onion_address:
        return None
    host = onion_address.strip().removeprefix("http://").removeprefix("https://").strip("/")
    return f"http://{host}{path}".encode("latin-1", "replace")


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP response that did not set its own."""

    def __init__(self, app: ASGIApp, onion_address: str | None = None) -> None:
        self.app = app
        self.onion_address = onion_address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        onion = self.onion_address
        if onion is None:
            services = getattr(getattr(scope.get("app"), "state", None), "services", None)
            settings = getattr(services, "settings", None)
            onion = getattr(settings, "onion_address", None)
        extra = list(BASE_HEADERS)
        extra.append((b"content-security-policy", CSP.encode()))
        extra.append((b"cache-control", b"no-store"))
        extra.append((b"pragma", b"no-cache"))
        location = onion_location(onion, path)
        if location and not path.startswith("/api/"):
            extra.append((b"onion-location", location))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                own = {name.lower() for name, _ in headers}
                added = [(name, value) for name, value in extra if name not in own]
                message = {**message, "headers": headers + added}
            await send(message)

        await self.app(scope, receive, send_with_headers)
