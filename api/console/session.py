"""The console's browser session: the staff session token in a cookie, and CSRF tokens.

The cookie holds the same ``dks_`` session token the API hands out, so the console and the
API share one session model (expiry, revocation, the private key sealed under the token).
It is a session cookie (gone when the browser closes), ``HttpOnly`` (no script reads it),
``SameSite=Strict`` (no other site's page can make the browser send it) and scoped to
``/staff``; ``Secure`` when the transport allows: over HTTPS, and over a ``.onion`` name,
which Tor Browser treats as a secure context even on plain HTTP.

Every POST also carries a CSRF token, so a forged form fails even in a browser that
ignores SameSite. The token is an HMAC of the session's id under ``DOKAZ_SECRET_KEY``: no
server state, different for every session, and useless once the session ends. Before
sign-in the form token of the public pages (``api.web.csrf``) protects the sign-in form.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

COOKIE: Final = "dokaz_staff"
PATH: Final = "/staff"
FIELD: Final = "csrf"
_CONTEXT: Final = b"dokaz-console-csrf-v1|"


def csrf_token(secret: str, session_id: uuid.UUID) -> str:
    return hmac.new(secret.encode(), _CONTEXT + str(session_id).encode(),
                    hashlib.sha256).hexdigest()[:32]


def csrf_ok(secret: str, session_id: uuid.UUID, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(secret, session_id), token or "")


def secure_transport(request: Request) -> bool:
    host = (request.headers.get("host") or "").split(":", 1)[0].lower()
    return request.url.scheme == "https" or host.endswith(".onion")


def set_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(COOKIE, token, path=PATH, httponly=True, samesite="strict",
                        secure=secure_transport(request))


def clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict",
                           secure=secure_transport(request))


def cookie_token(request: Request) -> str | None:
    value = request.cookies.get(COOKIE)
    return value if value and value.isascii() and len(value) < 200 else None
