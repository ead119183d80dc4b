# ruff: noqa: S608  (SQL built from constants of this script, no outside input)
"""Partner statistics over 1,000,000 cases in PostgreSQL: service path vs a plain GROUP BY.

Builds a scratch database with the real migrations, fills it with generate_series (one
victim per case, 1-2 acts each, detention/torture/disappearance details, perpetrators,
consent for ~90 %, the Belarus codes: recognitions, ongoing detentions, penalties,
articles, named facilities, countries of residence), then for every catalogue table
times, in the same run:

* service: ``build_cube`` (the counting SQL: consent and state rules, per-person
  contribution cap) + ``protected_cells`` (primary and hypercube secondary suppression);
* hand-written: the GROUP BY a person would write for the same numbers (same joins and
  consent rule, ``count(DISTINCT victim)``, no cap and no protection).

The two are run alternately, ``--repeat`` times each (after one warm-up each), so a busy
machine slows both alike; the medians are reported with every table's ratio (target <= 2)
and the check that both give the same counts (a catalogue table without a hand-written
query stops the bench before it fills anything). Then the full refresh (every table
counted, protected and stored, as ``dokaz stats refresh`` does) is timed and split into its parts,
and partner pulls are timed from the stored release (the first renders, repeats come from
the rendered-pull cache). Exits 1 when any table misses the target.

    .venv/bin/python bench/stats.py [--cases 1000000] [--repeat 5] [--keep]
"""

from __future__ import annotations

import argparse
import functools
import os
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text
from sqlmodel import Session

from api.core import migrations
from api.core.db import make_engine
from api.core.settings import Settings
from api.stats import operations, service
from api.stats.catalogue import (
    TABLES,
    _country_code,
    _facility_attribute,
    bin_value,
    levels_for,
    month_levels,
    month_of,
)
from api.stats.limits import PullLimiter
from api.stats.rendered import PullCache

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def _arr(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


def _pick(values: list[str], skew: float = 1.5) -> str:
    # Skewed choice: the first codes are common, the last rare (small cells happen).
    return f"({_arr(values)})[1 + floor({len(values)} * power(random(), {skew}))::int]"


def _uuid(prefix: str, expr: str) -> str:
    return f"('{prefix}-0000-0000-0000-' || lpad(to_hex({expr}), 12, '0'))::uuid"


def populate(conn: psycopg.Connection[Any], n: int) -> None:
    acts = ["arrest", "detention", "torture", "physical_assault", "disappearance",
            "illegal_search", "death_threats", "house_arrest", "exile", "rape"]
    regions = ["BY-HM", "BY-MI", "BY-HO", "BY-VI", "BY-BR", "BY-HR", "BY-MA", "abroad",
               "unknown"]
    states = ["verified", "referred", "closed", "new", "triage", "in_review", "rejected"]
    month = ("to_char(date '2020-01-01' + floor(72 * power(random(), 0.7))::int "
             "* interval '1 month', 'YYYY-MM')")
    has_mechanism = conn.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'case_consent' "
        "AND column_name = 'mechanism'").fetchone()
    mech = has_mechanism is not None and has_mechanism[0] > 0
    steps = [
        ("cases", f"""INSERT INTO cases (id, reference, state, priority, urgent, urgency_reasons,
            region, period_start_month, received_on, version, state_changed_at, created_at,
            updated_at, priority_rank)
            SELECT {_uuid('00000001', 'i')}, 'B-' || i, {_pick(states, 0.8)}, 'normal', false,
            '', {_pick(regions)}, {month}, date '2024-01-01', 1, now(), now(), now(), 1
            FROM generate_series(1, {n}) i"""),
        ("case_person", f"""INSERT INTO case_person (id, case_id, role, sex, age_band, sealed)
            SELECT {_uuid('00000002', 'i')}, {_uuid('00000001', 'i')}, 'victim',
            {_pick(['male', 'female', 'unknown', 'other'], 2)},
            {_pick(['age_20_29', 'age_30_39', 'age_40_49', 'age_50_59', 'age_10_19',
                    'age_60_69', 'age_70_79'])}, '\\x01'::bytea
            FROM generate_series(1, {n}) i"""),
        ("case_act", f"""INSERT INTO case_act (id, case_id, victim_id, act_type, start_month,
            region, sealed)
            SELECT {_uuid('00000003', 'i')}, c.id, {_uuid('00000002', 'i')},
            {_pick(acts)}, c.period_start_month, c.region, '\\x01'::bytea
            FROM generate_series(1, {n}) i
            JOIN cases c ON c.id = {_uuid('00000001', 'i')}"""),
        ("case_act (second acts)", f"""INSERT INTO case_act (id, case_id, victim_id, act_type,
            start_month, region, sealed)
            SELECT {_uuid('00000004', 'i')}, {_uuid('00000001', 'i')},
            {_uuid('00000002', 'i')}, {_pick(acts)}, {month}, {_pick(regions)}, '\\x01'::bytea
            FROM generate_series(1, {n}) i WHERE i % 10 < 3"""),
        ("case_detention", f"""INSERT INTO case_detention (act_id, case_id, facility_type,
            ongoing, sealed)
            SELECT a.id, a.case_id, {_pick(['rovd', 'ivs', 'tsip', 'sizo_mvd', 'sizo_kgb',
                                             'prison', 'correctional_colony', 'police_van',
                                             'unofficial_place'])}, false, '\\x01'::bytea
            FROM case_act a WHERE a.act_type IN ('detention', 'arrest')"""),
        ("case_code", f"""INSERT INTO case_code (id, case_id, subject_id, vocab, code)
            SELECT gen_random_uuid(), a.id_case, a.id, 'torture_method', m.code FROM
            (SELECT id, case_id AS id_case, 1 + floor(3 * random())::int AS k FROM case_act
             WHERE act_type IN ('torture', 'physical_assault')) a
            CROSS JOIN LATERAL (SELECT DISTINCT {_pick(['beating', 'forced_postures',
                'sleep_deprivation', 'threats_against_family', 'electric_shock',
                'asphyxiation', 'overcrowding', 'denial_of_medical_care'])} AS code
                FROM generate_series(1, a.k)) m"""),
        ("case_involvement", f"""INSERT INTO case_involvement (id, case_id, act_id,
            perpetrator_type, sealed)
            SELECT gen_random_uuid(), a.case_id, a.id, {_pick(['police', 'omon', 'gubopik',
                'intelligence_service', 'prison_officials', 'plain_clothes', 'judiciary'])},
            '\\x01'::bytea FROM case_act a"""),
        ("case_disappearance", f"""INSERT INTO case_disappearance (act_id, case_id,
            last_seen_month, region, current_status, wgeid_urgent, sealed)
            SELECT a.id, a.case_id, a.start_month, a.region,
            {_pick(['still_missing', 'found_alive_in_detention', 'dead', 'released'])}, false,
            '\\x01'::bytea FROM case_act a WHERE a.act_type = 'disappearance'"""),
        # The Belarus codes the indicators read (docs/case-metadata.md "Belarus coding"):
        # transnational act types in place of exile, named facilities, penalties, articles.
        ("Belarus codes (persons)", f"""UPDATE case_person SET
            residence_country = {_pick(['LT', 'PL', 'GE', 'DE', 'MT', 'BY'], 2)},
            political_prisoner_recognised_by = CASE WHEN random() < 0.1 THEN
                {_pick(['viasna', 'joint_statement', 'other'], 2)} END,
            political_prisoner_month = {month}"""),
        ("Belarus codes (acts)", f"""UPDATE case_act SET act_type = {_pick([
            'conviction_in_absentia', 'pressure_on_relatives', 'passport_refusal',
            'wanted_notice', 'extradition_request'])} WHERE act_type = 'exile'"""),
        ("Belarus codes (facility)", f"""UPDATE case_act SET facility = {_pick([
            'tsip_akrestsina_minsk', 'sizo_1_minsk', 'sizo_kgb_minsk', 'prison_8_zhodzina',
            'ik_15_mogilev', 'other'], 2)} WHERE act_type IN ('torture', 'detention')"""),
        # ~1 detention in 5 still ongoing: political_prisoners_held counts those.
        ("Belarus codes (penalties)", f"""UPDATE case_detention SET
            ongoing = random() < 0.2, admin_arrest_days = floor(46 * random())::int,
            fine_band = {_pick(['bu_up_to_10', 'bu_11_30', 'bu_31_50', 'bu_over_100'], 2)},
            verdict_month = CASE WHEN random() < 0.6 THEN {month} END"""),
        ("Belarus codes (articles)", f"""INSERT INTO case_code (id, case_id, subject_id, vocab,
            code) SELECT gen_random_uuid(), d.case_id, d.act_id, 'legal_basis',
            {_pick(['cc_342', 'cc_130', 'cc_361_1', 'cao_24_23', 'cao_19_11'])}
            FROM case_detention d"""),
        ("case_consent", f"""INSERT INTO case_consent (id, case_id, person_id, scope,
            {'mechanism, ' if mech else ''}version, recorded_at, revoked_at)
            SELECT gen_random_uuid(), {_uuid('00000001', 'i')}, {_uuid('00000002', 'i')},
            'aggregate_statistics', {"'', " if mech else ''}1, now(),
            CASE WHEN i % 50 = 0 THEN now() END
            FROM generate_series(1, {n}) i WHERE i % 10 <> 9"""),
    ]
    conn.execute("SELECT setseed(0.42)")
    for name, sql in steps:
        started = time.perf_counter()
        conn.execute(sql.encode())
        print(f"  filled {name:<24} {time.perf_counter() - started:6.1f} s")
    conn.execute("VACUUM ANALYZE")  # visibility map: index-only scans, as autovacuum would


_CONSENT = """EXISTS (SELECT 1 FROM case_consent cc WHERE cc.person_id = p.id
    AND cc.scope = 'aggregate_statistics' AND cc.revoked_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM case_consent nx WHERE nx.person_id = cc.person_id
                    AND nx.scope = cc.scope AND nx.version > cc.version))"""
_CASES = ("c.state IN ('verified', 'referred', 'closed') AND c.merged_into_id IS NULL "
          "AND c.shredded_at IS NULL")
_ACTS = f"""FROM case_act a JOIN case_person p ON p.id = a.victim_id
    JOIN cases c ON c.id = p.case_id WHERE p.role = 'victim' AND {_CASES} AND {_CONSENT}"""
_M = "COALESCE(a.start_month, c.period_start_month)"
_R = "COALESCE(a.region, c.region)"

HAND_WRITTEN = {
    "acts_by_type_region_month":
        f"SELECT a.act_type, {_R}, {_M}, count(DISTINCT a.victim_id) {_ACTS} GROUP BY 1, 2, 3",
    "detentions_by_facility_region_month":
        f"SELECT d.facility_type, {_R}, {_M}, count(DISTINCT a.victim_id) "
        + _ACTS.replace("WHERE", "JOIN case_detention d ON d.act_id = a.id WHERE", 1)
        + " GROUP BY 1, 2, 3",
    "torture_methods_by_month":
        f"SELECT k.code, {_M}, count(DISTINCT a.victim_id) "
        + _ACTS.replace("WHERE", "JOIN case_code k ON k.subject_id = a.id AND "
                        "k.vocab = 'torture_method' WHERE", 1) + " GROUP BY 1, 2",
    "acts_by_perpetrator_month":
        f"SELECT i.perpetrator_type, {_M}, count(DISTINCT a.victim_id) "
        + _ACTS.replace("WHERE", "JOIN case_involvement i ON i.act_id = a.id WHERE", 1)
        + " GROUP BY 1, 2",
    "disappearances_by_status_region_month":
        f"SELECT d.current_status, COALESCE(d.region, {_R}), COALESCE(d.last_seen_month, "
        f"{_M}), count(DISTINCT a.victim_id) "
        + _ACTS.replace("WHERE", "JOIN case_disappearance d ON d.act_id = a.id WHERE", 1)
        + " GROUP BY 1, 2, 3",
    "victims_by_sex_age_month":
        f"SELECT p.sex, p.age_band, c.period_start_month, count(*) FROM case_person p "
        f"JOIN cases c ON c.id = p.case_id WHERE p.role = 'victim' AND {_CASES} AND {_CONSENT} "
        "GROUP BY 1, 2, 3",
    "political_prisoners_by_region_month":
        f"SELECT c.region, p.political_prisoner_month, count(*) FROM case_person p "
        f"JOIN cases c ON c.id = p.case_id WHERE p.role = 'victim' AND {_CASES} AND {_CONSENT} "
        "AND p.political_prisoner_recognised_by IS NOT NULL GROUP BY 1, 2",
    "political_prisoners_held":
        f"SELECT c.region, p.political_prisoner_recognised_by, count(*) FROM case_person p "
        f"JOIN cases c ON c.id = p.case_id WHERE p.role = 'victim' AND {_CASES} AND {_CONSENT} "
        "AND p.political_prisoner_recognised_by IS NOT NULL AND EXISTS (SELECT 1 FROM "
        "case_act a JOIN case_detention d ON d.act_id = a.id WHERE a.victim_id = p.id "
        "AND d.ongoing) GROUP BY 1, 2",
    "convictions_by_article_month":
        "SELECT k.code, d.verdict_month, count(DISTINCT a.victim_id) "
        + _ACTS.replace("WHERE", "JOIN case_detention d ON d.act_id = a.id JOIN case_code k "
                        "ON k.subject_id = a.id AND k.vocab = 'legal_basis' WHERE", 1)
        + " AND d.verdict_month IS NOT NULL GROUP BY 1, 2",
    "admin_arrests_by_days_month":
        "SELECT CASE WHEN d.admin_arrest_days <= 10 THEN 'days_1_10' WHEN d.admin_arrest_days "
        "<= 15 THEN 'days_11_15' WHEN d.admin_arrest_days <= 30 THEN 'days_16_30' ELSE "
        f"'days_31_plus' END, {_M}, count(DISTINCT a.victim_id) "
        + _ACTS.replace("WHERE", "JOIN case_detention d ON d.act_id = a.id WHERE", 1)
        + " AND d.admin_arrest_days > 0 GROUP BY 1, 2",
    "fines_by_band_month":
        f"SELECT d.fine_band, {_M}, count(DISTINCT a.victim_id) "
        + _ACTS.replace("WHERE", "JOIN case_detention d ON d.act_id = a.id WHERE", 1)
        + " AND d.fine_band IS NOT NULL GROUP BY 1, 2",
    "torture_by_facility_month":
        f"SELECT a.facility, {_M}, count(DISTINCT a.victim_id) {_ACTS} "
        "AND a.act_type = 'torture' GROUP BY 1, 2",
    "torture_by_facility_type_region_month":
        f"SELECT {_facility_attribute('facility_type')}, "
        f"COALESCE({_facility_attribute('region')}, {_R}), {_M}, "
        f"count(DISTINCT a.victim_id) {_ACTS} AND a.act_type = 'torture' GROUP BY 1, 2, 3",
    "transnational_repression_by_country_month":
        f"SELECT a.act_type, {_country_code().replace('a.', 'p.')}, {_M}, "
        f"count(DISTINCT a.victim_id) {_ACTS} AND a.act_type IN "
        "('conviction_in_absentia', 'pressure_on_relatives', 'passport_refusal', "
        "'wanted_notice', 'extradition_request') GROUP BY 1, 2, 3",
    "cases_by_state_region_month":
        f"SELECT c.state, COALESCE(c.region, 'unknown'), c.period_start_month, count(*) "
        f"FROM cases c WHERE {_CASES} "
        "AND EXISTS (SELECT 1 FROM case_person p WHERE p.case_id = c.id AND p.role = 'victim') "
        "AND NOT EXISTS (SELECT 1 FROM case_person p WHERE p.case_id = c.id AND "
        f"p.role = 'victim' AND NOT {_CONSENT}) GROUP BY 1, 2, 3",
}


TARGET = 2.0


def _check_coverage() -> None:
    """Stop before any filling when the catalogue and HAND_WRITTEN disagree: a table
    without its GROUP BY would otherwise end the run with a bare KeyError halfway."""
    catalogue = {spec.id for spec in TABLES}
    missing = sorted(catalogue - HAND_WRITTEN.keys())
    stale = sorted(HAND_WRITTEN.keys() - catalogue)
    if missing or stale:
        if missing:
            print("catalogue tables without a hand-written GROUP BY in bench/stats.py "
                  f"HAND_WRITTEN: {', '.join(missing)}", file=sys.stderr)
        if stale:
            print(f"HAND_WRITTEN entries for tables not in the catalogue: {', '.join(stale)}",
                  file=sys.stderr)
        print("write the GROUP BY a person would write for the same numbers (see the "
              "module docstring)", file=sys.stderr)
        sys.exit(2)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def interleaved(repeat: int, a: Callable[[], Any], b: Callable[[], Any]
                ) -> tuple[float, float, float, Any, Any]:
    """Median seconds of ``a`` and ``b`` run alternately, the median of the per-run
    ratios, and the last results."""
    a(), b()  # warm-up: plans, caches, the visibility map
    ta, tb, ratios = [], [], []
    ra = rb = None
    for _ in range(repeat):
        sa, ra = timed(a)
        sb, rb = timed(b)
        ta.append(sa)
        tb.append(sb)
        ratios.append(sa / sb)
    return statistics.median(ta), statistics.median(tb), statistics.median(ratios), ra, rb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved runs per table")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", metavar="DB", help="time an already filled database "
                        "(made with --keep) instead of filling a new one; it is kept")
    parser.add_argument("--db-prefix", default=os.environ.get("DOKAZ_BENCH_DB_PREFIX",
                                                              "dokaz_bench"),
                        help="name prefix of the scratch database (shared servers)")
    args = parser.parse_args()
    _check_coverage()

    name = args.reuse or f"{args.db_prefix}_stats_{secrets.token_hex(3)}"
    if not args.reuse:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"'.encode())
    url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    settings = Settings(database_url=url, data_dir=Path("/tmp/dokaz-bench-stats"),
                        kdf_profile="fast-insecure-for-tests", stats_first_month="2020-01")
    missed: list[str] = []
    try:
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            if not args.reuse:
                migrations.upgrade(settings, url=url)
                print(f"populating {args.cases:,} cases in {name} ...")
                populate(conn, args.cases)
            counts = {t: conn.execute(f"SELECT count(*) FROM {t}".encode()).fetchone()
                      for t in ("cases", "case_person", "case_act", "case_code")}
        print("  rows: " + ", ".join(f"{t} {c[0]:,}" for t, c in counts.items() if c))
        engine = make_engine(settings, url=url)
        with Session(engine) as session:
            missed = time_tables(session, settings, args.repeat)
            time_refresh_and_pulls(session, settings, args.repeat)
        engine.dispose()
    finally:
        if not args.keep and not args.reuse:
            with psycopg.connect(ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        elif not args.reuse:
            print(f"kept database {name}")
    if missed:
        print(f"MISSED: {', '.join(missed)} above {TARGET:.2f}")
        sys.exit(1)


def time_tables(session: Session, settings: Settings, repeat: int) -> list[str]:
    """Every table: service path vs hand-written GROUP BY, interleaved; the ids missing."""
    months = month_levels(settings.stats_first_month, month_of(date.today()))
    print(f"\n{repeat} interleaved runs per table; medians")
    print(f"{'table':<40} {'cells':>6} {'hidden':>6} {'count s':>8} {'protect s':>9} "
          f"{'service s':>9} {'GROUP BY s':>10} {'ratio':>6}  same")
    ratios: dict[str, float] = {}
    for spec in TABLES:
        parts: dict[str, list[float]] = {"count": [], "protect": []}

        def service_path(spec: Any = spec, parts: dict[str, list[float]] = parts
                         ) -> tuple[Any, int]:
            t_count, cube = timed(lambda: service.build_cube(session, spec, settings, months))
            t_protect, (_, hidden) = timed(
                lambda: service.protected_cells(cube, settings.stats_min_cell))
            parts["count"].append(t_count)
            parts["protect"].append(t_protect)
            return cube, hidden

        def hand_written(spec: Any = spec) -> list[Any]:
            return list(session.execute(text(HAND_WRITTEN[spec.id])).all())

        t_service, t_hand, ratio, (cube, hidden), rows = interleaved(
            repeat, service_path, hand_written)
        same = _same(spec, rows, cube.counts, months)
        ratios[spec.id] = ratio if same else float("inf")
        interior = sum(1 for c in cube.counts if "*" not in c and cube.counts[c])
        print(f"{spec.id:<40} {interior:>6} {hidden:>6} "
              f"{statistics.median(parts['count']):>8.3f} "
              f"{statistics.median(parts['protect']):>9.3f} {t_service:>9.3f} "
              f"{t_hand:>10.3f} {ratio:>6.2f}  {'yes' if same else 'NO'}")
    worst = max(ratios, key=lambda t: ratios[t])
    print(f"\nworst ratio {ratios[worst]:.2f} ({worst}; target <= {TARGET:.2f}); "
          f"median {statistics.median(ratios.values()):.2f}")
    return [t for t, r in ratios.items() if r > TARGET]


def time_refresh_and_pulls(session: Session, settings: Settings, repeat: int) -> None:
    timings: dict[str, float] = {}
    t_refresh, _ = timed(lambda: service.refresh(session, settings, force=True,
                                                 timings=timings))
    session.commit()
    print(f"full refresh ({len(TABLES)} tables counted, protected, stored): {t_refresh:.2f} s = "
          + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    service._grids.clear()
    partner = uuid.uuid4()  # no policy row: the default, suppressed mode
    params = {"region": "BY-HM", "from": "2021-01", "to": "2021-12"}
    t_cold, result = timed(lambda: service.answer(
        session, settings, partner, "acts_by_type_region_month", params))
    t_answer = statistics.median(timed(lambda: service.answer(
        session, settings, partner, "acts_by_type_region_month", params))[0]
        for _ in range(repeat))
    print(f"one pull answered from the release: {t_cold * 1000:.0f} ms cold (grid "
          f"loaded), {t_answer * 1000:.1f} ms warm ({len(result.cells)} cells)")
    # The whole pull as the route runs it (rate limit, render, audit): rendered once, then
    # served from the rendered-pull cache.
    limiter, cache = PullLimiter(10_000), PullCache(settings.stats_pull_cache_mib)

    def pull(fmt: str) -> Any:
        # As the route does: answer and audit, then render (from the cache when it can).
        answered = operations.pull(session, settings, limiter, cache, partner_id=partner,
                                   key_id=partner, table_id="acts_by_type_region_month",
                                   fmt=fmt, lang="en", params=params)
        return operations.render(answered, cache)

    for fmt in ("json", "csv"):
        once = functools.partial(pull, fmt)
        t_render, rendered = timed(once)
        t_cached = statistics.median(timed(once)[0] for _ in range(repeat))
        print(f"partner pull as {fmt} ({len(rendered.body):,} bytes): rendered "
              f"{t_render * 1000:.1f} ms, from the cache {t_cached * 1000:.2f} ms "
              "(both audited)")
    session.rollback()


def _same(spec: Any, rows: list[Any], counts: dict[tuple[str, ...], int],
          months: tuple[str, ...]) -> bool:
    levels = levels_for(spec, months)
    interior: dict[tuple[str, ...], int] = {}
    for *raw, n in rows:
        coord = tuple(bin_value(v, lv, is_month=d.id == "month")
                      for v, lv, d in zip(raw, levels, spec.dims, strict=True))
        interior[coord] = interior.get(coord, 0) + int(n)
    return all(counts.get(c, 0) == n for c, n in interior.items()) and sum(
        interior.values()) == counts[tuple("*" for _ in spec.dims)]


if __name__ == "__main__":
    main()
