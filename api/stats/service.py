"""Partner statistics: refreshing the protected release and answering pulls from it.

Why a release, and why answer only from it: partners can ask overlapping questions (this
period and that one, with and without a region). If every answer were counted afresh, the
difference of two answers could isolate one person. So ``refresh`` counts every catalogue
table once, over a fixed grid (fixed month bins, every oblast, every code), protects the
whole grid with its margins at once (``api.stats.disclosure``), and stores it. A pull only
*selects* cells of that grid; a cell that merges several grid cells (a period, a subset of
regions) is the sum of published cells, and is hidden when any part is hidden. Every
number a partner can get is then a sum of published cells of one release, so no
combination of pulls says more than the release itself, and the release hides every
small cell against all its margins.

Partners switched to differential privacy get the exact grid sums plus discrete Laplace
noise (``api.stats.dp``) instead, charged to a per-partner budget ledger; an identical
repeated query within a budget period returns the same noisy answer at no cost.

``refresh(session)`` is what the ``refresh_stats`` job and ``dokaz stats refresh`` run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from threading import Lock

from sqlmodel import Session

from api.core.errors import Forbidden, InvalidInput, NotFound, ServiceUnavailable
from api.core.models import utcnow
from api.core.progress import SILENT, Progress
from api.core.settings import Settings, get_settings
from api.stats import dp, repository
from api.stats.catalogue import (
    BY_ID,
    EARLIER,
    MONTH,
    TABLES,
    UNKNOWN,
    Dimension,
    TableSpec,
    bin_value,
    levels_for,
    month_levels,
    month_of,
)
from api.stats.disclosure import TOTAL, Coord, Cube, protect
from api.stats.models import StatsBudgetEntry, StatsPartnerPolicy, StatsRelease

MODES = ("suppressed", "dp")
# Audit action for an admin changing a partner's statistics mode or budget.
POLICY_CHANGED = "stats.policy_changed"
RELEASE_FORCED = "stats.release_forced"


class StatsNotReady(ServiceUnavailable):
    code = "stats_not_ready"
    default_message = "Statistics have not been prepared yet. Please try again later."


class PrivacyBudgetExhausted(Forbidden):
    code = "privacy_budget_exhausted"
    default_message = "Your organisation's privacy budget for this period is used up."


class UnknownTable(NotFound):
    code = "unknown_table"
    default_message = "There is no statistics table with this id; see /api/v1/stats/tables."


# ---- refresh ----

def build_cube(session: Session, spec: TableSpec, settings: Settings, months: tuple[str, ...],
               bounds: dict[str, int] | None = None) -> Cube:
    """Count one table over its full grid (exact counts, margins included). ``bounds``
    shares contribution bounds between the tables of one refresh (one transaction)."""
    levels = levels_for(spec, months)
    is_month = [d.id == MONTH for d in spec.dims]
    interior: dict[Coord, int] = {}
    for row in repository.count_table(session, spec, settings.stats_countable_states, bounds):
        *raw, n = row
        coord = tuple(bin_value(v, lv, is_month=m)
                      for v, lv, m in zip(raw, levels, is_month, strict=True))
        interior[coord] = interior.get(coord, 0) + int(n)
    return Cube.from_interior(spec.dim_ids, levels, interior)


def protected_cells(cube: Cube, k: int) -> tuple[dict[Coord, tuple[int, bool, bool]], int]:
    """Every cell as (count, suppressed, primary); and how many are suppressed."""
    protection = protect(cube, k)
    cells = {c: (n, c in protection.suppressed, c in protection.primary)
             for c, n in cube.counts.items()}
    return cells, len(protection.suppressed)


def refresh(session: Session, settings: Settings | None = None,
            now: datetime | None = None, *, force: bool = False,
            timings: dict[str, float] | None = None,
            progress: Progress = SILENT) -> StatsRelease:
    """Count, protect and store every catalogue table as one new release (flushes only).

    Releases are batched: while the latest one is younger than
    ``DOKAZ_STATS_RELEASE_INTERVAL_HOURS`` it is returned unchanged (unless ``force``).
    Two releases differ by every case coded in between; if that is one case, comparing
    all tables across the two releases would describe that one person. Batching makes
    each change a group of cases. (The hourly ``refresh_stats`` job relies on this.)
    """
    settings = settings or get_settings()
    now = now or utcnow()
    latest = repository.latest_release(session)
    due = next_release_due(latest, settings)
    if latest is not None and not force and due is not None and now < due:
        return latest
    last = max(month_of(now.date()), settings.stats_first_month)
    months = month_levels(settings.stats_first_month, last)
    release = StatsRelease(created_at=now, min_cell=settings.stats_min_cell,
                           first_month=settings.stats_first_month, last_month=last)
    rows: list[dict[str, object]] = []
    spent = {"count": 0.0, "protect": 0.0, "store": 0.0}
    # Bounds computed once per refresh. Like a bound and its count before, they are separate
    # statements: acts coded during the refresh's seconds may be counted without being in
    # the bound; the DP cap only matters past max_contributions acts for one person.
    bounds: dict[str, int] = {}
    progress.step("tables", len(TABLES))
    for spec in TABLES:
        progress.advance()
        started = time.perf_counter()
        cube = build_cube(session, spec, settings, months, bounds)
        counted = time.perf_counter()
        cells, _ = protected_cells(cube, settings.stats_min_cell)
        spent["count"] += counted - started
        spent["protect"] += time.perf_counter() - counted
        rows.extend(
            {"release_id": release.id, "table_id": spec.id, "coord": "|".join(c),
             "count": n, "suppressed": hidden, "primary": primary}
            for c, (n, hidden, primary) in cells.items()
            if n or hidden  # an absent cell is a published zero: most of a grid is empty
        )
    started = time.perf_counter()
    repository.add_release(session, release, rows)
    repository.prune_releases(session, settings.stats_releases_kept)
    spent["store"] = time.perf_counter() - started
    if timings is not None:
        timings.update(spent)
    return release


def next_release_due(latest: StatsRelease | None, settings: Settings) -> datetime | None:
    """When :func:`refresh` publishes again without ``force`` (None: there is no release
    yet, so at once)."""
    if latest is None:
        return None
    return latest.created_at + timedelta(hours=settings.stats_release_interval_hours)


# ---- the published grid, cached per release (a release never changes) ----

@dataclass(frozen=True)
class Grid:
    release_id: uuid.UUID
    levels: tuple[tuple[str, ...], ...]
    cells: dict[Coord, tuple[int, bool]]  # coord -> (exact count, suppressed)


_grids: OrderedDict[tuple[uuid.UUID, str], Grid] = OrderedDict()
_grids_lock = Lock()


def load_grid(session: Session, release: StatsRelease, spec: TableSpec) -> Grid:
    key = (release.id, spec.id)
    with _grids_lock:
        if key in _grids:
            _grids.move_to_end(key)
            return _grids[key]
    rows = repository.release_cells(session, release.id, spec.id)
    cells = {tuple(r.coord.split("|")): (r.count, r.suppressed) for r in rows}
    grid = Grid(release.id, levels_for(spec, month_levels(release.first_month,
                                                           release.last_month)), cells)
    with _grids_lock:
        _grids[key] = grid
        while len(_grids) > 32:
            _grids.popitem(last=False)
    return grid


# ---- queries ----

@dataclass(frozen=True)
class TableQuery:
    keep: tuple[str, ...]  # dimensions kept, in table order; the others are collapsed
    filters: tuple[tuple[str, tuple[str, ...]], ...]  # (dim, allowed levels), table order

    def canonical(self, table_id: str, release_id: uuid.UUID) -> str:
        return json.dumps({"t": table_id, "r": str(release_id), "k": self.keep,
                           "f": self.filters}, sort_keys=True)


RESERVED_PARAMS = frozenset({"format", "lang", "dims", "from", "to", "series"})


def parse_query(spec: TableSpec, params: Mapping[str, str], release: StatsRelease
                ) -> TableQuery:
    """Validate the partner's choices against the table; 422 with a clear message."""
    months = month_levels(release.first_month, release.last_month)
    levels = dict(zip(spec.dim_ids, levels_for(spec, months), strict=True))
    unknown = sorted(set(params) - RESERVED_PARAMS - set(spec.dim_ids))
    if unknown:
        raise InvalidInput(
            f"Unknown parameter(s) {', '.join(unknown)} for table {spec.id}. It can be "
            f"filtered by: {', '.join(d for d in spec.dim_ids if d != MONTH)}, from, to.")
    keep = spec.dim_ids
    if params.get("dims"):
        wanted = [d.strip() for d in params["dims"].split(",") if d.strip()]
        bad = [d for d in wanted if d not in spec.dim_ids]
        if bad:
            raise InvalidInput(f"Table {spec.id} has no dimension {bad[0]!r}; its "
                               f"dimensions are {', '.join(spec.dim_ids)}.")
        keep = tuple(d for d in spec.dim_ids if d in wanted)
    filters: list[tuple[str, tuple[str, ...]]] = []
    for dim in spec.dim_ids:
        if dim == MONTH:
            chosen = _period(params.get("from"), params.get("to"), months)
        elif params.get(dim):
            codes = [c.strip() for c in params[dim].split(",") if c.strip()]
            bad = [c for c in codes if c not in levels[dim]]
            if bad:
                raise InvalidInput(f"{bad[0]!r} is not a code of {dim}; see the table's "
                                   "dimensions in /api/v1/stats/tables.")
            chosen = tuple(lv for lv in levels[dim] if lv in codes)
        else:
            continue
        if chosen is not None:
            filters.append((dim, chosen))
    return TableQuery(keep, tuple(filters))


def _period(start: str | None, end: str | None, months: tuple[str, ...]
            ) -> tuple[str, ...] | None:
    if not start and not end:
        return None
    real = [m for m in months if m not in (EARLIER, UNKNOWN)]
    for name, value in (("from", start), ("to", end)):
        if value and (len(value) != 7 or value[4] != "-" or not value.replace("-", "").isdigit()
                      or not 1 <= int(value[5:]) <= 12):
            raise InvalidInput(f"'{name}' must be a month written YYYY-MM, e.g. 2021-03.")
    lo, hi = start or real[0], end or real[-1]
    if lo > hi:
        raise InvalidInput("'from' must not be after 'to'.")
    chosen = tuple(m for m in real if lo <= m <= hi)
    if not chosen:
        raise InvalidInput(f"The period is outside the published months "
                           f"({real[0]} to {real[-1]}).")
    return chosen


@dataclass
class ResultCell:
    coords: tuple[str, ...]  # one per kept dimension; TOTAL for a total row
    value: int | None
    suppressed: bool


@dataclass
class TableResult:
    spec: TableSpec
    release: StatsRelease
    kept: tuple[Dimension, ...]
    query: TableQuery
    cells: list[ResultCell]
    mode: str
    min_cell: int
    epsilon: float | None = None
    budget_remaining: float | None = None
    budget: float | None = None
    cached: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def suppressed_count(self) -> int:
        return sum(1 for c in self.cells if c.suppressed)


def _plan(spec: TableSpec, grid: Grid, query: TableQuery
          ) -> list[tuple[tuple[str, ...], list[Coord], bool]]:
    """Output cells: (kept coords, grid cells to add up, is_interior)."""
    filters = dict(query.filters)
    per_dim: list[list[tuple[str | None, list[str]]]] = []
    for i, dim in enumerate(spec.dim_ids):
        allowed = list(filters.get(dim, grid.levels[i]))
        whole = [TOTAL] if len(allowed) == len(grid.levels[i]) else allowed
        entries: list[tuple[str | None, list[str]]] = []
        if dim in query.keep:
            entries = [*((lv, [lv]) for lv in allowed), (TOTAL, whole)]
        else:
            entries = [(None, whole)]
        per_dim.append(entries)
    plan = []
    for combo in itertools.product(*per_dim):
        coords = tuple(label for label, _ in combo if label is not None)
        parts = [tuple(p) for p in itertools.product(*[lvls for _, lvls in combo])]
        plan.append((coords, parts, TOTAL not in coords))
    return plan


def _exact(grid: Grid, parts: list[Coord]) -> tuple[int, bool]:
    total, hidden = 0, False
    for p in parts:
        n, s = grid.cells.get(p, (0, False))
        total += n
        hidden = hidden or s
    return total, hidden


@dataclass(frozen=True)
class PreparedPull:
    """A checked pull before it is answered: what a rendered pull is cached by."""

    spec: TableSpec
    release: StatsRelease
    query: TableQuery
    mode: str  # the partner's mode now: "suppressed" or "dp"


def prepare(session: Session, partner_id: uuid.UUID, table_id: str,
            params: Mapping[str, str]) -> PreparedPull:
    """The table, the current release, the validated query and the partner's mode."""
    spec = BY_ID.get(table_id)
    if spec is None:
        raise UnknownTable()
    release = repository.latest_release(session)
    if release is None:
        raise StatsNotReady()
    query = parse_query(spec, params, release)
    policy = repository.get_policy(session, partner_id)
    mode = "dp" if policy is not None and policy.mode == "dp" else "suppressed"
    return PreparedPull(spec, release, query, mode)


def answer(session: Session, settings: Settings, partner_id: uuid.UUID, table_id: str,
           params: Mapping[str, str], now: datetime | None = None) -> TableResult:
    """Answer one pull from the current release, in the partner's mode."""
    return answer_prepared(session, partner_id, prepare(session, partner_id, table_id, params),
                           now)


def answer_prepared(session: Session, partner_id: uuid.UUID, pull: PreparedPull,
                    now: datetime | None = None) -> TableResult:
    spec, release, query = pull.spec, pull.release, pull.query
    grid = load_grid(session, release, spec)
    plan = _plan(spec, grid, query)
    kept = tuple(d for d in spec.dims if d.id in query.keep)
    if pull.mode != "dp":
        cells = []
        for coords, parts, _ in plan:
            n, hidden = _exact(grid, parts)
            cells.append(ResultCell(coords, None if hidden else n, hidden))
        return TableResult(spec, release, kept, query, cells, "suppressed", release.min_cell)
    return _answer_dp(session, spec, release, grid, query, plan, kept, partner_id,
                      now or utcnow())


def _answer_dp(session: Session, spec: TableSpec, release: StatsRelease, grid: Grid,
               query: TableQuery, plan: list[tuple[tuple[str, ...], list[Coord], bool]],
               kept: tuple[Dimension, ...], partner_id: uuid.UUID, now: datetime
               ) -> TableResult:
    policy = repository.lock_policy(session, partner_id)
    assert policy is not None
    digest = hashlib.sha256(query.canonical(spec.id, release.id).encode()).hexdigest()
    entry = repository.cached_answer(session, partner_id, policy.period_started_at, digest)
    interior = [i for i, (_, _, inner) in enumerate(plan) if inner]
    cached = entry is not None
    if entry is not None:
        noisy: list[int] = json.loads(entry.answer)
    else:
        spent = repository.spent(session, partner_id, policy.period_started_at)
        eps = policy.epsilon_per_pull
        if spent + eps > policy.epsilon_budget + 1e-9:
            remaining = max(0.0, policy.epsilon_budget - spent)
            raise PrivacyBudgetExhausted(
                f"This pull needs ε={eps:g} of privacy budget but only ε={remaining:g} of "
                f"ε={policy.epsilon_budget:g} remains in the budget period that began on "
                f"{policy.period_started_at.date().isoformat()}. Repeating a query you "
                "have already made costs nothing; ask the Dokaz administrators to start "
                "a new budget period.",
                details={"epsilon_needed": eps, "epsilon_remaining": remaining,
                         "epsilon_budget": policy.epsilon_budget})
        exact = [_exact(grid, plan[i][1])[0] for i in interior]
        noisy = dp.noisy_counts(exact, sensitivity=spec.max_contributions, epsilon=eps)
        session.add(StatsBudgetEntry(
            partner_id=partner_id, period_started_at=policy.period_started_at,
            table_id=spec.id, query_hash=digest, release_id=release.id, epsilon=eps,
            answer=json.dumps(noisy), created_at=now))
        session.flush()
    values = dict(zip(interior, noisy, strict=True))
    cells = _dp_cells(plan, values, k=release.min_cell)
    spent_now = repository.spent(session, partner_id, policy.period_started_at)
    return TableResult(spec, release, kept, query, cells, "dp", release.min_cell,
                       epsilon=policy.epsilon_per_pull, budget=policy.epsilon_budget,
                       budget_remaining=max(0.0, policy.epsilon_budget - spent_now),
                       cached=cached)


def _dp_cells(plan: list[tuple[tuple[str, ...], list[Coord], bool]], values: dict[int, int],
              *, k: int) -> list[ResultCell]:
    """Totals are sums of the noisy interior cells (post-processing: no extra budget);
    noisy values below k are hidden too (also post-processing)."""
    sums: dict[tuple[str, ...], int] = {}
    for i, v in values.items():
        coords = plan[i][0]
        for mask in itertools.product((False, True), repeat=len(coords)):
            key = tuple(TOTAL if m else x for x, m in zip(coords, mask, strict=True))
            sums[key] = sums.get(key, 0) + v
    cells = []
    for coords, _, _ in plan:
        n = sums.get(coords, 0)
        hidden = 0 < n < k
        cells.append(ResultCell(coords, None if hidden else n, hidden))
    return cells


# ---- policy (admin) ----

def set_policy(session: Session, settings: Settings, partner_id: uuid.UUID, *, mode: str,
               epsilon_per_pull: float | None, epsilon_budget: float | None,
               new_period: bool, actor_id: uuid.UUID | None, now: datetime | None = None
               ) -> StatsPartnerPolicy:
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}.")
    for name, value in (("epsilon_per_pull", epsilon_per_pull),
                        ("epsilon_budget", epsilon_budget)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise InvalidInput(f"{name} must be a positive number.")
    now = now or utcnow()
    policy = repository.get_policy(session, partner_id)
    if policy is None:
        policy = StatsPartnerPolicy(
            partner_id=partner_id, epsilon_per_pull=settings.stats_dp_epsilon_per_pull,
            epsilon_budget=settings.stats_dp_epsilon_budget, period_started_at=now)
    policy.mode = mode
    if epsilon_per_pull is not None:
        policy.epsilon_per_pull = epsilon_per_pull
    if epsilon_budget is not None:
        policy.epsilon_budget = epsilon_budget
    if policy.epsilon_per_pull > policy.epsilon_budget:
        raise InvalidInput("epsilon_per_pull cannot exceed epsilon_budget.")
    if new_period:
        policy.period_started_at = now
    policy.updated_at = now
    policy.updated_by_id = actor_id
    session.add(policy)
    session.flush()
    return policy


def budget_status(session: Session, partner_id: uuid.UUID) -> dict[str, object]:
    policy = repository.get_policy(session, partner_id)
    if policy is None or policy.mode != "dp":
        return {"mode": "suppressed"}
    used = repository.spent(session, partner_id, policy.period_started_at)
    return {"mode": "dp", "epsilon_per_pull": policy.epsilon_per_pull,
            "epsilon_budget": policy.epsilon_budget, "epsilon_spent": used,
            "epsilon_remaining": max(0.0, policy.epsilon_budget - used),
            "period_started_at": policy.period_started_at.isoformat(),
            "pulls_charged": repository.pulls_in_period(session, partner_id,
                                                        policy.period_started_at)}
