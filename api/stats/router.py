"""Partner statistics endpoints under /api/v1/stats (routes only: rules live in service).

Partners authenticate with an API key holding the ``stats:read`` scope; every pull is
rate limited per key and written to the audit log (table id, format, mode, cell counts:
never values). Admins set each partner's mode and DP budget and may refresh the release.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from api.audit import actions
from api.audit.service import record, record_always
from api.auth.dependencies import AdminOnly, require_partner_scope
from api.auth.principals import PartnerPrincipal
from api.core.dependencies import DbSession
from api.core.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    error_responses,
)
from api.core.settings import Settings
from api.partners.models import Partner
from api.stats import formats, service
from api.stats.catalogue import BY_ID, MONTH, TABLES
from api.stats.limits import limiter_of
from api.vocab.registry import Language

router = APIRouter(prefix="/api/v1/stats", tags=["statistics"])

StatsPartner = Annotated[PartnerPrincipal, Depends(require_partner_scope("stats:read"))]
TableId = Annotated[str, Path(max_length=64, description="a table id from /api/v1/stats/tables")]
Lang = Annotated[Language, Query(description="label language")]
PARTNER_ERRORS = (Unauthorized, Forbidden, RateLimited)
PULL_ERRORS = (*PARTNER_ERRORS, NotFound, InvalidInput, ServiceUnavailable,
               service.PrivacyBudgetExhausted)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _pull(request: Request, session: DbSession, partner: PartnerPrincipal, table_id: str,
          fmt: str) -> service.TableResult:
    settings = _settings(request)
    limiter_of(request.app.state, settings).check(partner.key_id)
    params = {k: v for k, v in request.query_params.items()}
    if fmt == "svg":
        params = _chart_params(table_id, params)
    audit = {"key_id": str(partner.key_id), "format": fmt}
    try:
        result = service.answer(session, settings, partner.partner_id, table_id, params)
    except service.PrivacyBudgetExhausted:
        # The refusal must stay on record although this transaction rolls back.
        record_always(session, action=actions.PARTNER_PULL, actor_id=partner.partner_id,
                      actor_kind="partner", target=table_id[:64],
                      details={**audit, "outcome": "refused_budget"})
        raise
    record(session, action=actions.PARTNER_PULL, actor_id=partner.partner_id,
           actor_kind="partner", target=table_id,
           details={**audit, "outcome": "ok", "mode": result.mode,
                    "cells": len(result.cells), "suppressed": result.suppressed_count,
                    "charged": result.mode == "dp" and not result.cached})
    return result


def _chart_params(table_id: str, params: dict[str, str]) -> dict[str, str]:
    spec = BY_ID.get(table_id)
    if spec is None:
        raise service.UnknownTable()
    series = params.pop("series", "")
    if series and (series == MONTH or series not in spec.dim_ids):
        raise InvalidInput(f"series must be one of: "
                           f"{', '.join(d for d in spec.dim_ids if d != MONTH)}.")
    params["dims"] = ",".join(d for d in (series, MONTH) if d)
    return params


@router.get("/tables", responses=error_responses(*PARTNER_ERRORS))
def catalogue(partner: StatsPartner, lang: Lang = "en") -> dict[str, Any]:
    """The catalogue: each table's dimensions, counting unit and contribution bound."""
    return {"tables": [
        {"id": t.id, "title": t.title, "description": t.description, "unit": t.unit,
         "max_contributions": t.max_contributions,
         "dimensions": [
             {"id": d.id, "name": formats.dim_name(d, lang), "vocabulary": d.vocab,
              **({"uwazi_thesaurus": f"/api/v1/vocabularies/{d.vocab}/uwazi"}
                 if d.vocab else {})}
             for d in t.dims],
         "data": f"/api/v1/stats/tables/{t.id}",
         "chart": f"/api/v1/stats/tables/{t.id}/chart.svg"}
        for t in TABLES],
        "parameters": {
            "format": "json (default) or csv",
            "lang": "en, be, ru or uk",
            "dims": "comma-separated dimensions to keep; the others are totalled",
            "from, to": "period as YYYY-MM",
            "<dimension>": "comma-separated codes to keep, e.g. region=BY-HM,BY-MI"}}


@router.get("/tables/{table_id}", responses=error_responses(*PULL_ERRORS))
def table_data(
    request: Request, session: DbSession, partner: StatsPartner, table_id: TableId,
    format: Literal["json", "csv"] = "json", lang: Lang = "en",
) -> Response:
    """One table (cells with codes, labels and ``suppressed`` flags) as JSON or CSV."""
    result = _pull(request, session, partner, table_id, format)
    if format == "csv":
        return StreamingResponse(
            formats.csv_rows(result, lang), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{table_id}.csv"'})
    return JSONResponse(formats.as_json(result, lang))


@router.get("/tables/{table_id}/chart.svg", responses=error_responses(*PULL_ERRORS))
def table_chart(
    request: Request, session: DbSession, partner: StatsPartner, table_id: TableId,
    lang: Lang = "en",
    series: Annotated[str, Query(description="dimension drawn as one line per code")] = "",
) -> Response:
    """The table over time as an SVG chart; hidden months are gaps."""
    result = _pull(request, session, partner, table_id, "svg")
    return Response(formats.as_svg(result, lang), media_type="image/svg+xml",
                    headers={"Content-Disposition": f'inline; filename="{table_id}.svg"'})


@router.get("/budget", responses=error_responses(*PARTNER_ERRORS))
def budget(session: DbSession, partner: StatsPartner) -> dict[str, object]:
    """This organisation's mode and, under differential privacy, its remaining budget."""
    return service.budget_status(session, partner.partner_id)


class PolicyIn(BaseModel):
    mode: Literal["suppressed", "dp"]
    epsilon_per_pull: float | None = Field(default=None, gt=0, le=10)
    epsilon_budget: float | None = Field(default=None, gt=0, le=1000)
    new_period: bool = Field(default=False, description="start a fresh budget period")


@router.get("/partners/{partner_id}/policy",
            responses=error_responses(Unauthorized, Forbidden, NotFound))
def get_policy(session: DbSession, admin: AdminOnly, partner_id: uuid.UUID
               ) -> dict[str, object]:
    """A partner's statistics mode and budget (admin)."""
    if session.get(Partner, partner_id) is None:
        raise NotFound("There is no partner with this id.")
    return service.budget_status(session, partner_id)


@router.put("/partners/{partner_id}/policy",
            responses=error_responses(Unauthorized, Forbidden, NotFound, InvalidInput))
def put_policy(request: Request, session: DbSession, admin: AdminOnly, partner_id: uuid.UUID,
               body: PolicyIn) -> dict[str, object]:
    """Set a partner's mode (exact with suppression, or DP) and budget (admin, audited)."""
    if session.get(Partner, partner_id) is None:
        raise NotFound("There is no partner with this id.")
    service.set_policy(session, _settings(request), partner_id, mode=body.mode,
                       epsilon_per_pull=body.epsilon_per_pull,
                       epsilon_budget=body.epsilon_budget, new_period=body.new_period,
                       actor_id=admin.user_id)
    record(session, action=service.POLICY_CHANGED, actor_id=admin.user_id,
           target=str(partner_id), details={"mode": body.mode, "new_period": body.new_period})
    return service.budget_status(session, partner_id)


@router.post("/refresh", responses=error_responses(Unauthorized, Forbidden))
def refresh(request: Request, session: DbSession, admin: AdminOnly) -> dict[str, object]:
    """Publish a new release now, even within the batching interval (audited)."""
    release = service.refresh(session, _settings(request), force=True)
    record(session, action=service.RELEASE_FORCED, actor_id=admin.user_id,
           target=str(release.id))
    return {"release": str(release.id), "created_at": release.created_at.isoformat(),
            "min_cell": release.min_cell}
