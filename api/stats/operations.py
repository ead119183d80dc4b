"""What each statistics endpoint does once its input is parsed: the rules around a pull
(rate limit, chart parameters, partner checks) and the audit record it leaves.

Pulls are audited by table id, format, mode and cell counts: never values. A refusal for
an exhausted privacy budget is recorded even though the request's transaction rolls back.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from pydantic import TypeAdapter
from sqlmodel import Session

from api.audit import actions
from api.audit.service import record, record_always
from api.core.errors import InvalidInput, NotFound
from api.core.settings import Settings
from api.partners import repository as partners
from api.stats import formats, schemas, service
from api.stats.catalogue import BY_ID, MONTH, TABLES
from api.stats.limits import PullLimiter
from api.vocab.registry import Language

_BUDGET: TypeAdapter[schemas.ExactBudget | schemas.DpBudget] = TypeAdapter(schemas.Budget)

PARAMETERS = {
    "format": "json (default) or csv",
    "lang": "en, be, ru or uk",
    "dims": "comma-separated dimensions to keep; the others are totalled",
    "from, to": "period as YYYY-MM",
    "<dimension>": "comma-separated codes to keep, e.g. region=BY-HM,BY-MI",
}


def catalogue(lang: Language) -> schemas.Catalogue:
    """Each table's dimensions, counting unit and contribution bound."""
    return schemas.Catalogue(tables=[
        schemas.CatalogueTable(
            id=t.id, title=t.title, description=t.description, unit=t.unit,
            max_contributions=t.max_contributions,
            dimensions=[
                schemas.CatalogueDimension(
                    id=d.id, name=formats.dim_name(d, lang), vocabulary=d.vocab,
                    **({"uwazi_thesaurus": f"/api/v1/vocabularies/{d.vocab}/uwazi"}
                       if d.vocab else {}))
                for d in t.dims],
            data=f"/api/v1/stats/tables/{t.id}",
            chart=f"/api/v1/stats/tables/{t.id}/chart.svg")
        for t in TABLES], parameters=dict(PARAMETERS))


def pull(session: Session, settings: Settings, limiter: PullLimiter, *,
         partner_id: uuid.UUID, key_id: uuid.UUID, table_id: str, fmt: str,
         params: Mapping[str, str]) -> service.TableResult:
    """One rate-limited, audited pull of a table (``fmt`` json, csv or svg)."""
    limiter.check(key_id)
    query = dict(params)
    if fmt == "svg":
        query = _chart_params(table_id, query)
    audit = {"key_id": str(key_id), "format": fmt}
    try:
        result = service.answer(session, settings, partner_id, table_id, query)
    except service.PrivacyBudgetExhausted:
        # The refusal must stay on record although this transaction rolls back.
        record_always(session, action=actions.PARTNER_PULL, actor_id=partner_id,
                      actor_kind="partner", target=table_id[:64],
                      details={**audit, "outcome": "refused_budget"})
        raise
    record(session, action=actions.PARTNER_PULL, actor_id=partner_id,
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


def budget(session: Session, partner_id: uuid.UUID) -> schemas.ExactBudget | schemas.DpBudget:
    """A partner's mode and, under differential privacy, its remaining budget."""
    return _BUDGET.validate_python(service.budget_status(session, partner_id))


def _require_partner(session: Session, partner_id: uuid.UUID) -> None:
    if partners.get_partner(session, partner_id) is None:
        raise NotFound("There is no partner with this id.")


def policy(session: Session, partner_id: uuid.UUID) -> schemas.ExactBudget | schemas.DpBudget:
    _require_partner(session, partner_id)
    return budget(session, partner_id)


def change_policy(session: Session, settings: Settings, partner_id: uuid.UUID,
                  body: schemas.PolicyIn, *, actor_id: uuid.UUID
                  ) -> schemas.ExactBudget | schemas.DpBudget:
    """Set a partner's mode and budget (audited)."""
    _require_partner(session, partner_id)
    service.set_policy(session, settings, partner_id, mode=body.mode,
                       epsilon_per_pull=body.epsilon_per_pull,
                       epsilon_budget=body.epsilon_budget, new_period=body.new_period,
                       actor_id=actor_id)
    record(session, action=service.POLICY_CHANGED, actor_id=actor_id,
           target=str(partner_id), details={"mode": body.mode, "new_period": body.new_period})
    return budget(session, partner_id)


def force_release(session: Session, settings: Settings, *, actor_id: uuid.UUID
                  ) -> schemas.ReleaseOut:
    """Publish a new release now, even within the batching interval (audited)."""
    release = service.refresh(session, settings, force=True)
    record(session, action=service.RELEASE_FORCED, actor_id=actor_id, target=str(release.id))
    return schemas.ReleaseOut(release=str(release.id),
                              created_at=release.created_at.isoformat(),
                              min_cell=release.min_cell)
