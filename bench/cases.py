"""Benchmark: the caseworker case list on 1,000,000 cases in PostgreSQL.

Builds a fresh database with the migrations, fills it with ``generate_series`` (cases, one
victim and one act per case, a caseworker's key wraps on 20% of the cases), then times each
list scenario two ways in the same run:

* ``service``: ``api.cases.service.list_cases`` in an open session, as in a request -
  scoping, filters, keyset cursor, ORM objects and the response models, i.e. what the
  API does;
* ``sql``: one hand-written SQL statement returning the same page (same filters, same
  scoping, same keyset condition and order, act types by a LATERAL subquery), run on a raw
  psycopg connection in the same state (inside a transaction).

The two are timed alternately, call by call, so a busy machine slows both alike.

Each scenario is timed in ``--rounds`` rounds (every scenario once per round, so a burst of
load from elsewhere falls on one round of every scenario, not on all rounds of one); a
round is ``--repeat`` interleaved calls of each side after a warm-up. A scenario's figures
are the medians over all its interleaved calls, and its ratio is the median of its
per-round ratios. Exits 1 when the worst ratio misses the target (service/sql <= 2).
Both return the same ids and act types (checked).

    .venv/bin/python bench/cases.py                    # 1,000,000 cases
    .venv/bin/python bench/cases.py --cases 100000 --keep
    .venv/bin/python bench/cases.py --reuse DB          # time a kept database again
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
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running as a plain script
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlmodel import Session  # noqa: E402

from api.auth.principals import Principal  # noqa: E402
from api.auth.roles import Role  # noqa: E402
from api.cases import pagination, service  # noqa: E402
from api.cases.repository import CaseFilters  # noqa: E402
from api.core import migrations  # noqa: E402
from api.core.db import make_engine  # noqa: E402
from api.core.settings import Settings  # noqa: E402

ADMIN_URL = os.environ.get("DOKAZ_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=datetime.now().astimezone().tzinfo).astimezone()
COORD = uuid.UUID(int=1)
CASEWORKER = uuid.UUID(int=2)

FILL = """
INSERT INTO staff_user (id, username, role, password_hash, public_key, sealed_private_key,
                        on_intake_duty, created_at)
VALUES (%(coord)s, 'bench-coord', 'coordinator', 'x', '\\x00', '\\x00', false, now()),
       (%(cw)s, 'bench-cw', 'caseworker', 'x', '\\x00', '\\x00', false, now());

INSERT INTO cases (id, reference, state, priority, priority_rank, urgent, urgency_reasons,
                   region, received_on, assignee_id, version, state_changed_at, due_at,
                   created_at, updated_at)
SELECT md5('case' || i)::uuid,
       'B-' || i,
       (ARRAY['new','triage','in_review','needs_info','verified','referred','closed',
              'rejected','duplicate','spam'])[1 + i %% 10],
       (ARRAY['low','normal','high'])[1 + (hashint4(i + 1)::bigint & 2147483647) %% 3],
       (hashint4(i + 1)::bigint & 2147483647) %% 3,
       (hashint4(i + 2)::bigint & 2147483647) %% 7 = 0,
       CASE WHEN (hashint4(i + 2)::bigint & 2147483647) %% 7 = 0
            THEN 'ongoing_detention' ELSE '' END,
       (ARRAY['BY-HM','BY-BR','BY-HO','BY-HR','BY-MA','BY-MI','BY-VI','abroad','unknown'])
           [1 + (hashint4(i + 3)::bigint & 2147483647) %% 9],
       DATE '2020-08-01' + ((hashint4(i + 4)::bigint & 2147483647) %% 2000)::int,
       CASE WHEN (hashint4(i + 5)::bigint & 2147483647) %% 5 = 0 THEN %(cw)s::uuid END,
       1,
       %(now)s::timestamptz - ((hashint4(i + 6)::bigint & 2147483647) %% 5000)
           * interval '1 hour',
       CASE WHEN i %% 10 < 6
            THEN %(now)s::timestamptz - ((hashint4(i + 6)::bigint & 2147483647) %% 5000)
                 * interval '1 hour' + interval '120 hours'
       END,
       %(now)s::timestamptz, %(now)s::timestamptz
FROM generate_series(1, %(n)s) AS i;

INSERT INTO case_person (id, case_id, role, sex, age_band, sealed)
SELECT md5('person' || i)::uuid, md5('case' || i)::uuid, 'victim',
       (ARRAY['female','male'])[1 + i %% 2], 'age_20_29', '\\x01'
FROM generate_series(1, %(n)s) AS i;

INSERT INTO case_act (id, case_id, victim_id, act_type, region, sealed)
SELECT md5('act' || i)::uuid, md5('case' || i)::uuid, md5('person' || i)::uuid,
       (ARRAY['detention','arrest','torture','disappearance','house_arrest','surveillance',
              'physical_assault'])[1 + (hashint4(i + 7)::bigint & 2147483647) %% 7],
       'BY-HM', '\\x01'
FROM generate_series(1, %(n)s) AS i;

INSERT INTO case_key_wrap (id, case_id, recipient_kind, recipient_id, wrapped_key, created_at)
SELECT md5('wrap' || i)::uuid, md5('case' || i)::uuid, 'staff', %(cw)s::uuid, '\\x01', now()
FROM generate_series(1, %(n)s) AS i WHERE (hashint4(i + 8)::bigint & 2147483647) %% 5 = 0
"""

# Secondary indexes of the filled tables are dropped before the bulk insert and rebuilt
# after it (the same definitions, read from the catalogue): much faster than maintaining
# sixteen indexes row by row.
INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE tablename IN ('cases', 'case_person', 'case_act', 'case_key_wrap')
  AND indexname NOT IN (SELECT conname FROM pg_constraint)
"""

# The hand-written equivalent of each scenario: filters, scoping, keyset and order the same,
# act types of the page by a LATERAL subquery.
SQL_PAGE = """
SELECT c.id, c.reference, c.state, c.priority, c.urgent, c.urgency_reasons, c.region,
       c.received_on, c.state_changed_at, c.due_at, c.assignee_id, c.version, t.types
FROM cases c
CROSS JOIN LATERAL (SELECT array_agg(DISTINCT a.act_type ORDER BY a.act_type) AS types
                    FROM case_act a WHERE a.case_id = c.id) t
WHERE {where}
ORDER BY {order}
LIMIT %(limit)s
"""
SCOPE_CW = ("c.id IN (SELECT w.case_id FROM case_key_wrap w WHERE "
            "w.recipient_kind IN ('staff','lawyer') AND w.recipient_id = %(me)s)")


def principal(user_id: uuid.UUID, role: Role) -> Principal:
    return Principal(user_id=user_id, username="bench", role=role, session_id=uuid.uuid4())


Scenario = tuple[str, Role, CaseFilters, str, bool, str, str, dict[str, Any]]


def scenarios() -> list[Scenario]:
    """(name, role, filters, sort, descending, SQL where, SQL order, SQL params)."""
    return [
        ("coordinator: 2 states + region, newest first", Role.COORDINATOR,
         CaseFilters(states=["triage", "in_review"], regions=["BY-HM"]), "received_on", True,
         "c.state IN ('triage','in_review') AND c.region = 'BY-HM'",
         "c.received_on DESC, c.id DESC", {}),
        ("caseworker (scoped): open states, newest first", Role.CASEWORKER,
         CaseFilters(states=["new", "triage", "in_review", "needs_info"]), "received_on", True,
         SCOPE_CW + " AND c.state IN ('new','triage','in_review','needs_info')",
         "c.received_on DESC, c.id DESC", {}),
        ("coordinator: overdue, most overdue first", Role.COORDINATOR,
         CaseFilters(overdue=True, now=NOW), "due", False,
         "c.due_at < %(now)s", "c.due_at ASC NULLS LAST, c.id ASC", {"now": NOW}),
        ("coordinator: act type torture + urgent, by priority", Role.COORDINATOR,
         CaseFilters(act_types=["torture"], urgent=True), "priority", True,
         "EXISTS (SELECT 1 FROM case_act a2 WHERE a2.case_id = c.id "
         "AND a2.act_type IN ('torture')) AND c.urgent IS true",
         "c.priority_rank DESC, c.id DESC", {}),
        ("caseworker: assigned to me, received in 2021", Role.CASEWORKER,
         CaseFilters(assignee_id=CASEWORKER, received_from=date(2021, 1, 1),
                     received_to=date(2021, 12, 31)), "state_changed_at", True,
         SCOPE_CW + " AND c.assignee_id = %(me)s AND c.received_on >= '2021-01-01' "
         "AND c.received_on <= '2021-12-31'",
         "c.state_changed_at DESC, c.id DESC", {}),
    ]


KEYSET = {
    ("received_on", True): "(c.received_on, c.id) < (%(cv)s, %(cid)s)",
    ("priority", True): "(c.priority_rank, c.id) < (%(cv)s, %(cid)s)",
    ("state_changed_at", True): "(c.state_changed_at, c.id) < (%(cv)s, %(cid)s)",
    ("due", False): "((c.due_at, c.id) > (%(cv)s, %(cid)s) OR c.due_at IS NULL)",
}


TARGET = 2.0


def timed_pair(a: Callable[[], object], b: Callable[[], object], repeat: int
               ) -> tuple[list[float], list[float]]:
    """Milliseconds of ``repeat`` calls of ``a`` and of ``b``, measured alternately so that
    the load of a busy machine falls on both alike."""
    a(), b()  # warm-up (plans, statement caches)
    ta, tb = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        a()
        t1 = time.perf_counter()
        b()
        t2 = time.perf_counter()
        ta.append((t1 - t0) * 1000)
        tb.append((t2 - t1) * 1000)
    return ta, tb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30, help="interleaved calls per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", metavar="DB", help="time an already filled database "
                        "(made with --keep) instead of filling a new one; it is kept")
    parser.add_argument("--db-prefix", default=os.environ.get("DOKAZ_BENCH_DB_PREFIX",
                                                              "dokaz_bench"),
                        help="name prefix of the scratch database (shared servers)")
    args = parser.parse_args()

    name = args.reuse or f"{args.db_prefix}_cases_{secrets.token_hex(3)}"
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    settings = Settings(database_url=url, data_dir=Path("/tmp/dokaz-bench"))
    try:
        if not args.reuse:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"'.encode())
            fill(settings, url, args.cases)
        worst = run(settings, url, args.repeat, args.rounds, args.limit)
    finally:
        if not args.keep and not args.reuse:
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        elif not args.reuse:
            print(f"kept database {name}")
    if worst > TARGET:
        print(f"MISSED: worst ratio {worst:.2f} > {TARGET:.2f}")
        sys.exit(1)


def fill(settings: Settings, url: str, n: int) -> None:
    t0 = time.perf_counter()
    migrations.upgrade(settings)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        indexes = conn.execute(INDEXES).fetchall()
        for index_name, _ in indexes:
            conn.execute(f'DROP INDEX "{index_name}"'.encode())
        for statement in FILL.split(";\n\n"):
            conn.execute(statement.encode(), {"n": n, "coord": COORD,
                                              "cw": CASEWORKER, "now": NOW})
        for _, definition in indexes:
            conn.execute(definition.encode())
        conn.execute("VACUUM ANALYZE")
    print(f"built {n:,} cases (+ persons, acts, wraps) in {time.perf_counter() - t0:.1f} s")


def service_page(session: Session, settings: Settings, me: Principal, filters: CaseFilters,
                 sort: str, desc: bool, cursor_text: str | None, limit: int) -> Any:
    # As inside a request: the session's connection is already open (authentication used
    # it); nothing is cached between calls, every row is loaded and validated again.
    session.expunge_all()
    return service.list_cases(session, me, filters, sort=sort, descending=desc,
                              cursor_text=cursor_text, limit=limit, settings=settings)


def sql_page(raw: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> list[Any]:
    with raw.cursor() as cur:
        cur.execute(sql.encode(), params)
        return cur.fetchall()


Timed = tuple[str, int, Callable[[], Any], Callable[[], Any]]


def prepare(session: Session, settings: Settings, raw: psycopg.Connection[Any], limit: int
            ) -> list[Timed]:
    """Every (scenario, page) with its two callables; checks both return the same page."""
    cases: list[Timed] = []
    for name, role, filters, sort, desc, where, order, params in scenarios():
        me = principal(COORD if role == Role.COORDINATOR else CASEWORKER, role)
        cursor_text: str | None = None
        for page in (1, 2):
            sql_params = {**params, "me": me.user_id, "limit": limit}
            sql_where = where
            if cursor_text is not None:
                cur = pagination.decode(cursor_text, sort, desc)
                sql_where += " AND " + KEYSET[(sort, desc)]
                sql_params |= {"cv": cur.value, "cid": cur.id}
            sql = SQL_PAGE.format(where=sql_where, order=order)

            via_service = functools.partial(
                service_page, session, settings, me, filters, sort, desc, cursor_text, limit)
            via_sql = functools.partial(sql_page, raw, sql, sql_params)

            got = via_service()
            rows = via_sql()
            assert [str(i.id) for i in got.items] == [str(r[0]) for r in rows], name
            assert [i.act_types for i in got.items] == [r[-1] for r in rows], name
            cases.append((name, page, via_service, via_sql))
            cursor_text = got.next_cursor
            if cursor_text is None:
                break
    return cases


def run(settings: Settings, url: str, repeat: int, rounds: int, limit: int) -> float:
    """Time every scenario in interleaved rounds; print the table; return the worst ratio."""
    engine = make_engine(settings)
    session = Session(engine)
    session.connection()
    # Same connection state as the service's session: one open transaction.
    raw = psycopg.connect(url)
    cases = prepare(session, settings, raw, limit)
    service_ms: list[list[float]] = [[] for _ in cases]
    sql_ms: list[list[float]] = [[] for _ in cases]
    round_ratios: list[list[float]] = [[] for _ in cases]
    for _ in range(rounds):
        for i, (_, _, via_service, via_sql) in enumerate(cases):
            ta, tb = timed_pair(via_service, via_sql, repeat)
            service_ms[i] += ta
            sql_ms[i] += tb
            round_ratios[i].append(statistics.median(ta) / statistics.median(tb))
    print(f"{rounds} rounds x {repeat} interleaved calls per side; medians")
    print(f"{'scenario':<52} {'page':>5} {'service ms':>11} {'sql ms':>8} {'ratio':>6}"
          f" {'rounds min-max':>15}")
    ratios = []
    for i, (name, page, _, _) in enumerate(cases):
        ratio = statistics.median(round_ratios[i])
        ratios.append(ratio)
        print(f"{name:<52} {page:>5} {statistics.median(service_ms[i]):>11.2f} "
              f"{statistics.median(sql_ms[i]):>8.2f} {ratio:>6.2f} "
              f"{min(round_ratios[i]):>7.2f}-{max(round_ratios[i]):.2f}")
    print(f"worst ratio service/sql: {max(ratios):.2f} (target <= {TARGET:.2f}); "
          f"median {statistics.median(ratios):.2f}")
    raw.close()
    session.close()
    engine.dispose()
    return max(ratios)


if __name__ == "__main__":
    main()
