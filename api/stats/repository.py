# ruff: noqa: S608  (SQL assembled from this module's constants; values are bound)
"""Queries of partner statistics: counting the coarse coding, releases, policies, ledger.

Which records may be counted is decided here, in one place (``_BASE``):

* the case is in a countable state (``DOKAZ_STATS_COUNTABLE_STATES``), not merged into
  another case and not crypto-shredded;
* the person is a victim whose *current* consent (latest version per person and scope)
  to ``aggregate_statistics`` is not revoked. Consent recorded by a submitter
  for someone else at intake (``submission.consent_scopes``, or a ``case_consent`` row
  with ``on_behalf``) is not enough: only the person's own consent counts (their own
  report's, or one staff recorded);
* a case (``cases_by_state_region_month``) counts only if it has victims and every one of
  them consented.

Only plaintext coarse columns are read: codes, months, oblast, sex, age band (and the
Belarus codes of docs/case-metadata.md: named facility, country of residence, recognition).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, text
from sqlmodel import Session, col, select

from api.stats.catalogue import TableSpec
from api.stats.models import StatsBudgetEntry, StatsCell, StatsPartnerPolicy, StatsRelease

CONSENT_SCOPE = "aggregate_statistics"

_CASE_OK = "c.state IN :states AND c.merged_into_id IS NULL AND c.shredded_at IS NULL"
# The person's latest consent to statistics exists, is not revoked and is their own.
_CONSENTED = """EXISTS (
    SELECT 1 FROM case_consent cc
    WHERE cc.person_id = p.id AND cc.scope = :scope AND cc.revoked_at IS NULL
      AND NOT cc.on_behalf
      AND NOT EXISTS (
          SELECT 1 FROM case_consent nx
          WHERE nx.person_id = cc.person_id AND nx.scope = cc.scope
            AND nx.version > cc.version))"""
# The Belarus codes (residence country, political-prisoner recognition, named facility) are
# carried for the indicators built on them; PostgreSQL drops the columns a table's query
# does not read when it inlines the CTE, so they cost the other tables nothing.
_VICTIMS = f"""victims AS (
    SELECT p.id, p.sex, p.age_band, c.region, c.period_start_month AS month,
           p.residence_country, p.political_prisoner_recognised_by,
           p.political_prisoner_month
    FROM case_person p JOIN cases c ON c.id = p.case_id
    WHERE p.role = 'victim' AND {_CASE_OK} AND {_CONSENTED})"""
_ACTS = """acts AS (
    SELECT a.id, a.victim_id, a.act_type, COALESCE(a.region, v.region) AS region,
           COALESCE(a.start_month, v.month) AS month, a.facility, v.residence_country
    FROM case_act a JOIN victims v ON v.id = a.victim_id)"""
_COUNTED_CASES = f"""counted_cases AS (
    SELECT c.id, c.state, c.region, c.period_start_month FROM cases c
    WHERE {_CASE_OK}
      AND EXISTS (SELECT 1 FROM case_person p WHERE p.case_id = c.id AND p.role = 'victim')
      AND NOT EXISTS (
          SELECT 1 FROM case_person p WHERE p.case_id = c.id AND p.role = 'victim'
            AND NOT {_CONSENTED}))"""
# Only the CTEs a table reads, each referenced once, so PostgreSQL inlines them into one
# plan (a CTE referenced twice is materialised and its row estimate lost).
_SOURCES = {"acts": [_VICTIMS, _ACTS], "victims": [_VICTIMS], "cases": [_COUNTED_CASES]}


def count_sql(spec: TableSpec, *, capped: bool = True) -> str:
    """The full counting statement of one table (also printed by bench/stats.py).

    ``capped=False`` leaves out the per-person contribution cap; callers use it only when
    the base tables show no person can exceed the cap (``contribution_bound``)."""
    dims = [f"d{i}" for i in range(len(spec.dims))]
    cols = ", ".join(["unit", *dims])
    head = "WITH " + ",\n".join(_SOURCES[spec.source])
    head += f",\ncontrib({cols}) AS ({spec.contributions_sql})\n"
    group = ", ".join(dims)
    if spec.max_contributions == 1:
        # These SELECTs yield one row per person or case by construction.
        return head + f"SELECT {group}, count(*) FROM contrib GROUP BY {group}"
    if not capped:
        # Uncapped: distinct persons per cell, as a hand-written GROUP BY would count them.
        body = spec.contributions_sql.replace("SELECT DISTINCT ", "SELECT ", 1)
        head = "WITH " + ",\n".join(_SOURCES[spec.source])
        head += f",\ncontrib({cols}) AS ({body})\n"
        return head + f"SELECT {group}, count(DISTINCT unit) FROM contrib GROUP BY {group}"
    order = ", ".join(f"{d} IS NULL, {d}" for d in reversed(dims))  # month first, NULLs last
    # Only catalogue constants are interpolated here; values are bound parameters.
    return (
        head
        + f", ranked AS (SELECT {cols}, row_number() OVER (PARTITION BY unit ORDER BY "
        + f"{order}) AS rn FROM contrib)\n"
        + f"SELECT {group}, count(*) FROM ranked WHERE rn <= :cap GROUP BY {group}"
    )


def contribution_bound(session: Session, spec: TableSpec,
                       known: dict[str, int] | None = None) -> int:
    """An upper bound of the cells any one person reaches, from the base tables alone.

    One index-backed aggregate: when it is within the cap, the cap cannot bind and the
    plain GROUP BY gives exactly the capped numbers. ``known`` holds bounds already
    computed in this transaction (a refresh: three tables share one bound, and each
    scan of every act costs about as much as a small table's count)."""
    if spec.bound_sql is None:
        return 1
    if known is not None and spec.bound_sql in known:
        return known[spec.bound_sql]
    value = int(session.execute(text(spec.bound_sql)).scalar() or 0)
    if known is not None:
        known[spec.bound_sql] = value
    return value


def count_table(
    session: Session, spec: TableSpec, countable_states: Sequence[str],
    bounds: dict[str, int] | None = None,
) -> list[tuple[Any, ...]]:
    """Rows of (raw dim values..., count) for one table: exact, before any protection.
    ``bounds``: see ``contribution_bound``."""
    capped = contribution_bound(session, spec, bounds) > spec.max_contributions
    stmt = text(count_sql(spec, capped=capped)).bindparams(
        bindparam("states", expanding=True))
    params: dict[str, Any] = {"scope": CONSENT_SCOPE, "states": list(countable_states)}
    if capped:
        params["cap"] = spec.max_contributions
    return [tuple(r) for r in session.execute(stmt, params).all()]


# ---- releases ----

def add_release(session: Session, release: StatsRelease, cells: Iterable[dict[str, Any]]) -> None:
    session.add(release)
    session.flush()
    batch: list[dict[str, Any]] = []
    for cell in cells:
        batch.append(cell)
        if len(batch) >= 5000:
            session.execute(insert(StatsCell), batch)
            batch = []
    if batch:
        session.execute(insert(StatsCell), batch)
    session.flush()


def latest_release(session: Session) -> StatsRelease | None:
    stmt = select(StatsRelease).order_by(col(StatsRelease.created_at).desc()).limit(1)
    return session.exec(stmt).first()


def release_cells(session: Session, release_id: uuid.UUID, table_id: str) -> list[StatsCell]:
    stmt = select(StatsCell).where(
        StatsCell.release_id == release_id, StatsCell.table_id == table_id
    )
    return list(session.exec(stmt).all())


def prune_releases(session: Session, keep: int) -> int:
    ids = session.exec(
        select(StatsRelease.id).order_by(col(StatsRelease.created_at).desc()).offset(keep)
    ).all()
    if not ids:
        return 0
    session.execute(delete(StatsCell).where(col(StatsCell.release_id).in_(ids)))
    session.execute(delete(StatsRelease).where(col(StatsRelease.id).in_(ids)))
    session.flush()
    return len(ids)


# ---- partner policy and budget ledger ----

def get_policy(session: Session, partner_id: uuid.UUID) -> StatsPartnerPolicy | None:
    return session.get(StatsPartnerPolicy, partner_id)


def lock_policy(session: Session, partner_id: uuid.UUID) -> StatsPartnerPolicy | None:
    """The policy row locked for this transaction, so two pulls cannot overspend."""
    stmt = select(StatsPartnerPolicy).where(StatsPartnerPolicy.partner_id == partner_id)
    return session.exec(stmt.with_for_update()).first()


def spent(session: Session, partner_id: uuid.UUID, period_started_at: datetime) -> float:
    stmt = select(func.coalesce(func.sum(StatsBudgetEntry.epsilon), 0.0)).where(
        StatsBudgetEntry.partner_id == partner_id,
        StatsBudgetEntry.period_started_at == period_started_at,
    )
    return float(session.exec(stmt).one())


def cached_answer(
    session: Session, partner_id: uuid.UUID, period_started_at: datetime, query_hash: str
) -> StatsBudgetEntry | None:
    stmt = select(StatsBudgetEntry).where(
        StatsBudgetEntry.partner_id == partner_id,
        StatsBudgetEntry.period_started_at == period_started_at,
        StatsBudgetEntry.query_hash == query_hash,
    )
    return session.exec(stmt.limit(1)).first()


def pulls_in_period(
    session: Session, partner_id: uuid.UUID, period_started_at: datetime
) -> int:
    stmt = select(func.count()).select_from(StatsBudgetEntry).where(
        StatsBudgetEntry.partner_id == partner_id,
        StatsBudgetEntry.period_started_at == period_started_at,
    )
    return int(session.exec(stmt).one())
