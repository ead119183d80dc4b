"""The tus endpoints' HTTP framing, below the routes so that it holds for every response
of them, the errors the common handlers render included:

* ``Tus-Resumable: 1.0.0`` on every response (tus core: "MUST be included in every
  request and response"; a 404 or 413 rendered by :mod:`api.core.error_handlers` too).
* ``X-HTTP-Method-Override``: a POST naming PATCH, DELETE or HEAD is that method (tus
  core, for environments that cannot send them). Another value changes nothing (the POST
  is then answered as what it is, 405 on an upload's URL).
* CORS, only for the origins an operator lists (``DOKAZ_TUS_CORS_ORIGINS``; none by
  default, and then nothing here adds or answers anything CORS). A listed origin's
  preflight is answered here (no route answers OPTIONS on an upload's URL) and its
  responses expose the tus headers. No credentials are ever allowed: the capability in
  the upload URL is the only credential, and cookies have no business here.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.ingress.guards import TUS_VERSION

OVERRIDABLE = frozenset({"PATCH", "DELETE", "HEAD"})
ALLOW_METHODS = "POST, HEAD, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = ", ".join((
    "Content-Type", "Tus-Resumable", "Upload-Length", "Upload-Metadata", "Upload-Offset",
    "Upload-Checksum", "Upload-Concat", "Upload-Defer-Length", "X-HTTP-Method-Override",
    "X-Requested-With",
))
EXPOSE_HEADERS = ", ".join((
    "Location", "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size",
    "Tus-Checksum-Algorithm", "Upload-Offset", "Upload-Length", "Upload-Expires",
    "Retry-After",
))
PREFLIGHT_MAX_AGE = "600"


class TusProtocolMiddleware:
    def __init__(self, app: ASGIApp, prefix: str, cors_origins: frozenset[str]) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")
        self.cors_origins = cors_origins

    def _serves(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._serves(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin if origin is not None and origin in self.cors_origins else None
        if (allowed is not None and scope["method"] == "OPTIONS"
                and "access-control-request-method" in headers):
            await self._preflight(allowed, send)
            return
        override = headers.get("x-http-method-override", "").strip().upper()
        if scope["method"] == "POST" and override in OVERRIDABLE:
            scope = {**scope, "method": override}

        async def framed(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Tus-Resumable"] = TUS_VERSION
                if self.cors_origins:
                    out.add_vary_header("Origin")
                if allowed is not None:
                    out["Access-Control-Allow-Origin"] = allowed
                    out["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            await send(message)

        await self.app(scope, receive, framed)

    async def _preflight(self, origin: str, send: Send) -> None:
        headers = [
            (b"tus-resumable", TUS_VERSION.encode()),
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
            (b"vary", b"Origin"),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
