"""FastAPI dependencies for partner API keys: which partner is calling, with which scopes.

Partners send ``Authorization: Bearer dkp_...`` or ``X-API-Key: dkp_...``; the key is
checked against the database on every request, so a revoked or expired key stops
working at once. Use in routes::

    StatsPartner = Annotated[PartnerPrincipal, Depends(require_partner_scope("stats:read"))]
    def route(partner: StatsPartner): ...

These live with partners, not auth: partners build on auth (admins manage them through
``AdminOnly``), so auth sits below and may not import the partner keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from api.auth.dependencies import api_key
from api.auth.principals import PartnerPrincipal
from api.core.dependencies import DbSession, app_clock
from api.core.errors import Forbidden, Unauthorized
from api.partners.service import authenticate_key


def current_partner(request: Request, session: DbSession) -> PartnerPrincipal:
    key = api_key(request)
    if not key:
        raise Unauthorized("This needs a partner API key: send 'X-API-Key: dkp_...'.")
    row, partner = authenticate_key(session, key, app_clock(request).now())
    return PartnerPrincipal(partner_id=partner.id, key_id=row.id, name=partner.name,
                            scopes=frozenset(row.scopes.split()))


CurrentPartner = Annotated[PartnerPrincipal, Depends(current_partner)]


def require_partner_scope(scope: str) -> Callable[[PartnerPrincipal], PartnerPrincipal]:
    def dependency(partner: CurrentPartner) -> PartnerPrincipal:
        if scope not in partner.scopes:
            raise Forbidden(f"This API key lacks the '{scope}' scope.")
        return partner

    dependency.__name__ = f"require_partner_scope_{scope.replace(':', '_')}"
    return dependency
