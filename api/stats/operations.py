"""What each statistics endpoint does once its input is parsed: the rules around a pull
(rate limit, chart parameters, partner checks) and the audit record it leaves.

Pulls are audited by table id, format, mode and cell counts: never values. A refusal for
an exhausted privacy budget is recorded even though the request's transaction rolls back.
A pull is answered and audited first (:func:`pull`); the route then commits and only
afterwards renders the answer (:func:`render`): under differential privacy the partner's
budget row stays locked until the commit, and on SQLite the write lock does, so rendering
(about 13 % of a pull) must not happen inside the transaction. Suppressed-mode renderings
are cached per release, partner, table, query, format and language
(``api.stats.rendered``): a cached view is served without answering it again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

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
from api.stats.rendered import PullCache, PullKey, RenderedPull
from api.vocab.registry import Language

_BUDGET: TypeAdapter[schemas.ExactBudget | schemas.DpBudget] = TypeAdapter(schemas.Budget)
_TABLE_DATA: TypeAdapter[schemas.TableData] = TypeAdapter(schemas.TableData)

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


@dataclass(frozen=True)
class Pull:
    """A pull answered and audited, not rendered yet: either bytes from the cache, or the
    answer to render (and, when ``key`` is set, to keep in the cache)."""

    fmt: str
    lang: Language
    cached: RenderedPull | None = None
    result: service.TableResult | None = None
    key: PullKey | None = None


def pull(session: Session, settings: Settings, limiter: PullLimiter, cache: PullCache, *,
         partner_id: uuid.UUID, key_id: uuid.UUID, table_id: str, fmt: str, lang: Language,
         params: Mapping[str, str]) -> Pull:
    """One rate-limited, audited pull of a table (``fmt`` json, csv or svg); render it with
    :func:`render` once the transaction has committed.

    Suppressed-mode renderings are served from ``cache`` when this partner pulled the same
    view of the current release before (``api.stats.rendered``); the audit record is the
    same either way."""
    limiter.check(key_id)
    query = dict(params)
    if fmt == "svg":
        query = _chart_params(table_id, query)
    audit = {"key_id": str(key_id), "format": fmt}
    try:
        prepared = service.prepare(session, partner_id, table_id, query)
        key = None
        if prepared.mode == "suppressed" and cache.max_bytes > 0:
            key = PullKey(prepared.release.id, partner_id, prepared.spec.id, fmt, lang,
                          prepared.query.keep, prepared.query.filters)
        cached = cache.get(key) if key is not None else None
        if cached is not None:
            answered = Pull(fmt, lang, cached=cached)
            facts = (cached.mode, cached.cells, cached.suppressed, cached.charged)
        else:
            result = service.answer_prepared(session, partner_id, prepared)
            answered = Pull(fmt, lang, result=result, key=key)
            facts = (result.mode, len(result.cells), result.suppressed_count,
                     result.mode == "dp" and not result.cached)
    except service.PrivacyBudgetExhausted:
        # The refusal must stay on record although this transaction rolls back.
        record_always(session, action=actions.PARTNER_PULL, actor_id=partner_id,
                      actor_kind="partner", target=table_id[:64],
                      details={**audit, "outcome": "refused_budget"})
        raise
    mode, cells, suppressed, charged = facts
    record(session, action=actions.PARTNER_PULL, actor_id=partner_id,
           actor_kind="partner", target=table_id,
           details={**audit, "outcome": "ok", "mode": mode, "cells": cells,
                    "suppressed": suppressed, "charged": charged})
    return answered


def render(answered: Pull, cache: PullCache) -> RenderedPull:
    """The bytes of a pull: from the cache, or rendered now (and kept when cacheable).
    Call it after the pull's transaction has committed; it reads nothing from the
    database."""
    if answered.cached is not None:
        return answered.cached
    assert answered.result is not None
    rendered = _render(answered.result, answered.fmt, answered.lang)
    if answered.key is not None:
        cache.put(answered.key, rendered)
    return rendered


def _render(result: service.TableResult, fmt: str, lang: Language) -> RenderedPull:
    if fmt == "csv":
        body = "".join(formats.csv_rows(result, lang)).encode()
        media_type = "text/csv; charset=utf-8"
    elif fmt == "svg":
        body = formats.as_svg(result, lang).encode()
        media_type = "image/svg+xml"
    else:
        # Validated by the published schema and written as the web layer writes JSON
        # (compact, UTF-8), so a cached body is byte for byte what a fresh one would be.
        document = _TABLE_DATA.dump_python(
            _TABLE_DATA.validate_python(formats.as_json(result, lang)), mode="json")
        body = json.dumps(document, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":")).encode()
        media_type = "application/json"
    return RenderedPull(body, media_type, result.mode, len(result.cells),
                        result.suppressed_count, result.mode == "dp" and not result.cached)


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
