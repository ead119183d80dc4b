"""FastAPI dependencies: who is calling, and may they.

Staff send ``Authorization: Bearer dks_...`` (from POST /api/v1/auth/login). Partners
send an API key, ``Authorization: Bearer dkp_...`` or ``X-API-Key: dkp_...``. Both are
checked against the database on every request, so a revoked or expired session or key
stops working at once, in every process.

Use in routes::

    def route(me: CurrentStaff): ...
    def route(me: Annotated[Principal, Depends(require_roles(Role.COORDINATOR))]): ...
    StatsPartner = Annotated[PartnerPrincipal, Depends(require_partner_scope("stats:read"))]
    def route(partner: StatsPartner): ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from api.auth import login as login_service
from api.auth.principals import PartnerPrincipal, Principal
from api.auth.roles import Role
from api.core.dependencies import DbSession
from api.core.errors import Forbidden, Unauthorized
from api.core.services import services_of

PARTNER_KEY_PREFIX = "dkp_"


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise login_service.unauthorized("Send the token as 'Authorization: Bearer <token>'.")
    return value.strip()


def _principal(request: Request, session: DbSession, token: str) -> Principal:
    if token.startswith(PARTNER_KEY_PREFIX):
        raise login_service.unauthorized(
            "This needs a staff sign-in; partner API keys cannot be used here.")
    services = services_of(request.app)
    row, user = login_service.authenticate(session, services.settings, token,
                                           services.clock.now())
    return Principal(user_id=user.id, username=user.username, role=Role(user.role),
                     session_id=row.id, _token=token, _session_key=row.session_key)


def current_staff(request: Request, session: DbSession) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise login_service.unauthorized("Please sign in: this needs a staff session token.")
    return _principal(request, session, token)


def optional_staff(request: Request, session: DbSession) -> Principal | None:
    token = bearer_token(request)
    return None if token is None else _principal(request, session, token)


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


def _api_key(request: Request) -> str | None:
    header = request.headers.get("x-api-key")
    if header is not None:
        return header.strip()
    token = bearer_token(request)
    if token is not None and not token.startswith(PARTNER_KEY_PREFIX):
        raise Unauthorized("This needs a partner API key (dkp_...), not a staff session.")
    return token


def current_partner(request: Request, session: DbSession) -> PartnerPrincipal:
    from api.partners.service import authenticate_key

    key = _api_key(request)
    if not key:
        raise Unauthorized("This needs a partner API key: send 'X-API-Key: dkp_...'.")
    now = services_of(request.app).clock.now()
    api_key, partner = authenticate_key(session, key, now)
    return PartnerPrincipal(partner_id=partner.id, key_id=api_key.id, name=partner.name,
                            scopes=frozenset(api_key.scopes.split()))


CurrentPartner = Annotated[PartnerPrincipal, Depends(current_partner)]


def require_partner_scope(scope: str) -> Callable[[PartnerPrincipal], PartnerPrincipal]:
    def dependency(partner: CurrentPartner) -> PartnerPrincipal:
        if scope not in partner.scopes:
            raise Forbidden(f"This API key lacks the '{scope}' scope.")
        return partner

    dependency.__name__ = f"require_partner_scope_{scope.replace(':', '_')}"
    return dependency


AdminOnly = Annotated[Principal, Depends(require_roles(Role.ADMIN))]

