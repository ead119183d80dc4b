"""FastAPI dependencies: who is calling, and may they.

Staff send ``Authorization: Bearer dks_...`` (from POST /api/v1/auth/login). Partners
send an API key, ``Authorization: Bearer dkp_...`` or ``X-API-Key: dkp_...``. Both are
checked against the database on every request, so a revoked or expired session or key
stops working at once, in every process.

Use in routes::

    def route(me: CurrentStaff): ...
    def route(me: Annotated[Principal, Depends(require_roles(Role.COORDINATOR))]): ...

Partner API keys are checked in :mod:`api.partners.dependencies` (``CurrentPartner``,
``require_partner_scope``); ``bearer_token`` and ``api_key`` here read the headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from api.auth import login as login_service
from api.auth.principals import Principal
from api.auth.roles import Role
from api.auth.throttle import SignInThrottle
from api.core.db import in_transaction
from api.core.dependencies import DbSession, app_clock, app_engine, app_settings, service
from api.core.errors import Forbidden, Unauthorized
from api.core.surfaces import Surface
from api.ingress.guards import client_tag

PARTNER_KEY_PREFIX = "dkp_"


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise login_service.unauthorized("Send the token as 'Authorization: Bearer <token>'.")
    return value.strip()


def principal_for_token(request: Request, session: DbSession, token: str) -> Principal:
    """The signed-in staff member of a session token, from a header or the console's cookie."""
    if token.startswith(PARTNER_KEY_PREFIX):
        raise login_service.unauthorized(
            "This needs a staff sign-in; partner API keys cannot be used here.")
    row, user = login_service.authenticate(session, app_settings(request), token,
                                           app_clock(request).now())
    return Principal(user_id=user.id, username=user.username, role=Role(user.role),
                     session_id=row.id, _token=token, _session_key=row.session_key)


def current_staff(request: Request, session: DbSession) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise login_service.unauthorized("Please sign in: this needs a staff session token.")
    return principal_for_token(request, session, token)


def optional_staff(request: Request, session: DbSession) -> Principal | None:
    token = bearer_token(request)
    return None if token is None else principal_for_token(request, session, token)


CurrentStaff = Annotated[Principal, Depends(current_staff)]
OptionalStaff = Annotated[Principal | None, Depends(optional_staff)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency allowing only the given roles (403 for other signed-in staff)."""
    allowed = frozenset(roles)
    needed = ", ".join(sorted(r.value for r in allowed))

    def dependency(principal: CurrentStaff) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"Your role ({principal.role.value}) cannot do this; "
                            f"it needs: {needed}.")
        return principal

    dependency.__name__ = f"require_roles_{'_'.join(sorted(r.value for r in allowed))}"
    return dependency


def api_key(request: Request) -> str | None:
    header = request.headers.get("x-api-key")
    if header is not None:
        return header.strip()
    token = bearer_token(request)
    if token is not None and not token.startswith(PARTNER_KEY_PREFIX):
        raise Unauthorized("This needs a partner API key (dkp_...), not a staff session.")
    return token


AdminOnly = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


async def _sign_in_throttle(request: Request) -> SignInThrottle:
    return service(request, "login_throttle", SignInThrottle)


SignInLimits = Annotated[SignInThrottle, Depends(_sign_in_throttle)]


async def signin_client(request: Request) -> str | None:
    """Who "one client" is for sign-in throttling (None: no per-client limit).

    The request's ``client_tag`` (an address, or a Tor circuit on a single port behind
    Tor), except on the staff port of a Tor deployment (``proxy-protocol`` with
    ``DOKAZ_STAFF_PORT``): the staff onion service sends no PROXY header, so every staff
    member's connection comes from the one local tor process and its address names
    nobody. A per-client count there would be one count for all staff, which one
    sprayer could fill for everyone; so there the account's count and the global budget
    are the limits (the staff onion service's client authorisation decides who may try
    at all). Async, like the throttle's dependency: no thread hop for a lookup.
    """
    surface = getattr(request.app.state, "surface", Surface.ALL)
    if surface is Surface.STAFF and app_settings(request).client_identity == "proxy-protocol":
        return None
    return client_tag(request)


SignInClient = Annotated[str | None, Depends(signin_client)]


async def _staff_in_own_transaction(request: Request) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise login_service.unauthorized("Please sign in: this needs a staff session token.")
    return await in_transaction(app_engine(request),
                                lambda s: principal_for_token(request, s, token))


# For async routes that run Argon2: the session is checked in a short transaction of its
# own, so no transaction stays open (on SQLite: the write lock) while the route awaits.
CurrentStaffChecked = Annotated[Principal, Depends(_staff_in_own_transaction)]
