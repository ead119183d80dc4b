"""Partner statistics endpoints under /api/v1/stats (routes only: rules and audit live in
``operations``, response bodies in ``schemas``).

Partners authenticate with an API key holding the ``stats:read`` scope; every pull is
rate limited per key and written to the audit log. Admins set each partner's mode and DP
budget and may refresh the release.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from api.auth.dependencies import AdminOnly
from api.auth.principals import PartnerPrincipal
from api.core.db import commit_before_rendering
from api.core.dependencies import Config, DbSession
from api.core.errors import (
    DENIED,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    error_responses,
)
from api.partners.dependencies import require_partner_scope
from api.stats import operations, schemas, service
from api.stats.dependencies import StatsLimiter, StatsPullCache
from api.vocab.registry import Language

router = APIRouter(prefix="/api/v1/stats", tags=["statistics"])

StatsPartner = Annotated[PartnerPrincipal, Depends(require_partner_scope("stats:read"))]
TableId = Annotated[str, Path(max_length=64, description="a table id from /api/v1/stats/tables")]
Lang = Annotated[Language, Query(description="label language")]
PARTNER_ERRORS = (*DENIED, RateLimited)
PULL_ERRORS = (*PARTNER_ERRORS, NotFound, InvalidInput, ServiceUnavailable,
               service.PrivacyBudgetExhausted)
_TEXT: dict[str, Any] = {"schema": {"type": "string"}}




@router.get("/tables", response_model=schemas.Catalogue, response_model_exclude_unset=True,
            responses=error_responses(*PARTNER_ERRORS))
def catalogue(partner: StatsPartner, lang: Lang = "en") -> schemas.Catalogue:
    """The catalogue: each table's dimensions, counting unit and contribution bound."""
    return operations.catalogue(lang)


@router.get("/tables/{table_id}", response_model=schemas.TableData,
            responses={**error_responses(*PULL_ERRORS), 200: {"content": {"text/csv": _TEXT}}})
def table_data(
    request: Request, session: DbSession, settings: Config, limiter: StatsLimiter,
    cache: StatsPullCache, partner: StatsPartner, table_id: TableId,
    format: Literal["json", "csv"] = "json", lang: Lang = "en",
) -> Response:
    """One table (cells with codes, labels and ``suppressed`` flags) as JSON or CSV."""
    pulled = operations.pull(session, settings, limiter, cache, partner_id=partner.partner_id,
                             key_id=partner.key_id, table_id=table_id, fmt=format, lang=lang,
                             params=request.query_params)
    # Committed before rendering: under differential privacy the partner's budget row is
    # locked until the commit, and rendering must not keep that partner's other pulls waiting.
    commit_before_rendering(session)
    rendered = operations.render(pulled, cache)
    headers = ({"Content-Disposition": f'attachment; filename="{table_id}.csv"'}
               if format == "csv" else None)
    return Response(rendered.body, media_type=rendered.media_type, headers=headers)


# Not response_class: that would relabel the JSON error responses as SVG in the document.
@router.get("/tables/{table_id}/chart.svg", response_model=None,
            responses={**error_responses(*PULL_ERRORS), 200: {"content": {"image/svg+xml": _TEXT}}})
def table_chart(
    request: Request, session: DbSession, settings: Config, limiter: StatsLimiter,
    cache: StatsPullCache, partner: StatsPartner, table_id: TableId, lang: Lang = "en",
    series: Annotated[str, Query(description="dimension drawn as one line per code")] = "",
) -> Response:
    """The table over time as an SVG chart; hidden months are gaps."""
    pulled = operations.pull(session, settings, limiter, cache, partner_id=partner.partner_id,
                             key_id=partner.key_id, table_id=table_id, fmt="svg", lang=lang,
                             params=request.query_params)
    commit_before_rendering(session)
    rendered = operations.render(pulled, cache)
    return Response(rendered.body, media_type=rendered.media_type,
                    headers={"Content-Disposition": f'inline; filename="{table_id}.svg"'})


@router.get("/budget", response_model=schemas.Budget,
            responses=error_responses(*PARTNER_ERRORS))
def budget(session: DbSession, partner: StatsPartner) -> schemas.ExactBudget | schemas.DpBudget:
    """This organisation's mode and, under differential privacy, its remaining budget."""
    return operations.budget(session, partner.partner_id)


@router.get("/partners/{partner_id}/policy", response_model=schemas.Budget,
            responses=error_responses(*DENIED, NotFound))
def get_policy(session: DbSession, admin: AdminOnly, partner_id: uuid.UUID
               ) -> schemas.ExactBudget | schemas.DpBudget:
    """A partner's statistics mode and budget (admin)."""
    return operations.policy(session, partner_id)


@router.put("/partners/{partner_id}/policy", response_model=schemas.Budget,
            responses=error_responses(*DENIED, NotFound, InvalidInput))
def put_policy(session: DbSession, settings: Config, admin: AdminOnly,
               partner_id: uuid.UUID, body: schemas.PolicyIn
               ) -> schemas.ExactBudget | schemas.DpBudget:
    """Set a partner's mode (exact with suppression, or DP) and budget (admin, audited)."""
    return operations.change_policy(session, settings, partner_id, body, actor_id=admin.user_id)


@router.post("/refresh", response_model=schemas.ReleaseOut,
             responses=error_responses(*DENIED))
def refresh(session: DbSession, settings: Config, admin: AdminOnly) -> schemas.ReleaseOut:
    """Publish a new release now, even within the batching interval (audited)."""
    return operations.force_release(session, settings, actor_id=admin.user_id)
