"""CSRF protection for the public forms that survives hours-long uploads over Tor.

Signed double submit, no server state:

* ``GET`` of a page with a form sets the cookie ``dokaz_form`` to a random nonce
  (HttpOnly, SameSite=Strict, a session cookie, Secure over HTTPS) unless it has one.
* The form carries, as its FIRST field, ``csrf = "v1.<issued>.<mac>"`` where
  ``mac = HMAC-SHA256(secret_key, "dokaz-csrf-v1|" nonce "|" issued)``, truncated to 128 bits.
* A ``POST`` is accepted if the cookie is present, the token's MAC matches the cookie's
  nonce, and the token is younger than ``web_form_token_hours``.

A cross-site attacker can neither read the nonce nor set the cookie, so cannot forge the
field. The check that needs no body (``Sec-Fetch-Site``/``Origin`` not cross-site) is
the admission table's SAME_SITE step (api.ingress.origin), before any rate limit; the
token is checked as soon as the first form field arrives, so neither a rejection waits
for a whole upload nor does an accepted upload expire half way: age is judged when the
request starts, not when its last byte arrives.
Nothing in the token identifies anyone; the URL of the form stays constant.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from enum import Enum

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "dokaz_form"
FIELD = "csrf"
_CONTEXT = b"dokaz-csrf-v1|"


class CsrfProblem(Enum):
    MISSING = "missing"  # no cookie or no token: cookies blocked, or state cleared
    EXPIRED = "expired"
    INVALID = "invalid"


def _mac(secret: str, nonce: str, issued: int) -> str:
    message = _CONTEXT + nonce.encode() + b"|" + str(issued).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def valid_nonce(value: str | None) -> bool:
    return bool(value) and 16 <= len(value or "") <= 64 and (value or "").isascii()


def issue(secret: str, nonce: str, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    return f"v1.{issued}.{_mac(secret, nonce, issued)}"


def check_token(
    secret: str, nonce: str | None, token: str | None, max_age_seconds: float,
    now: float | None = None,
) -> CsrfProblem | None:
    """None if ``token`` is valid for the cookie ``nonce``; else what is wrong."""
    if not nonce or not token or not valid_nonce(nonce):
        return CsrfProblem.MISSING
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "v1" or not parts[1].isdigit():
        return CsrfProblem.INVALID
    issued = int(parts[1])
    if not hmac.compare_digest(_mac(secret, nonce, issued), parts[2]):
        return CsrfProblem.INVALID
    now = now if now is not None else time.time()
    if now - issued > max_age_seconds or issued - now > 300:
        return CsrfProblem.EXPIRED
    return None


class FormTokens:
    """Hands out the nonce cookie and tokens for one request's rendered page."""

    def __init__(self, request: Request, secret: str) -> None:
        self.secret = secret
        existing = request.cookies.get(COOKIE)
        self.secure = request.url.scheme == "https"
        self.is_new = not valid_nonce(existing)
        self.nonce = new_nonce() if self.is_new or existing is None else existing

    def token(self) -> str:
        return issue(self.secret, self.nonce)

    def apply(self, response: Response) -> None:
        if self.is_new:
            # A session cookie: gone when the browser closes, as Tor Browser does anyway.
            response.set_cookie(
                COOKIE, self.nonce, httponly=True, samesite="strict", secure=self.secure,
                path="/",
            )
