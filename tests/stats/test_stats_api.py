"""Partner statistics end to end: consent and state rules, suppression against differencing,
DP budget ledger, formats, authentication, rate limit and audit. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.audit.models import AuditEntry
from api.auth.roles import Role
from api.core.settings import Settings
from api.services import services_of
from api.stats import formats, service
from api.stats.catalogue import TABLES
from api.stats.models import StatsPartnerPolicy
from tests.factories import create_staff, login_headers
from tests.stats.conftest import add_victims, partner_key
from tests.stats.solver import determined

ACTS = "/api/v1/stats/tables/acts_by_type_region_month"


def _refresh(session: Session, settings: Settings) -> None:
    service.refresh(session, settings, force=True)
    session.commit()


def _grid(body: dict[str, Any]) -> tuple[dict[tuple[str, ...], int | None], list[list[str]]]:
    dims = [d["id"] for d in body["dimensions"]]
    cells = {tuple(c[d]["code"] for d in dims): c["value"] for c in body["cells"]}
    levels = [sorted({k[i] for k in cells} - {"*"}) for i in range(len(dims))]
    return cells, levels


def _value(client: TestClient, headers: dict[str, str], dims: str = "region", **params: str
           ) -> int | None:
    """The one cell a pull filtered down to one code of ``dims`` answers with."""
    r = client.get(ACTS, headers=headers, params={"dims": dims, **params})
    assert r.status_code == 200, r.text
    [cell] = [c for c in r.json()["cells"] if c[dims]["code"] != "*"]
    value: int | None = cell["value"]
    assert (value is None) == cell["suppressed"]
    return value


def test_only_consenting_victims_of_reviewed_cases_are_counted(
    stats_client: TestClient, session: Session, stats_settings: Settings
) -> None:
    add_victims(session, 11, region="BY-BR")
    add_victims(session, 3, region="BY-BR", consent=False)
    add_victims(session, 3, region="BY-BR", revoked=True)
    add_victims(session, 3, region="BY-BR", state="in_review")
    add_victims(session, 2, region="BY-BR", state="closed")
    _refresh(session, stats_settings)
    p = partner_key(session)
    assert _value(stats_client, p.headers, region="BY-BR", act_type="detention",
                  **{"from": "2021-03", "to": "2021-03"}) == 13


def test_overlapping_queries_cannot_be_differenced_and_every_margin_holds(
    stats_client: TestClient, session: Session, stats_settings: Settings
) -> None:
    add_victims(session, 12, region="BY-HM", month="2021-03")
    add_victims(session, 1, region="BY-HM", month="2021-04")  # the person to protect
    add_victims(session, 15, region="BY-MI", month="2021-03")
    add_victims(session, 14, region="BY-MI", month="2021-04")
    add_victims(session, 30, region="BY-HM", month="2021-05", act_type="arrest")
    _refresh(session, stats_settings)
    p = partner_key(session)
    h, det = p.headers, {"act_type": "detention"}
    march = _value(stats_client, h, region="BY-HM", **det, **{"from": "2021-03", "to": "2021-03"})
    spring = _value(stats_client, h, region="BY-HM", **det, **{"from": "2021-03", "to": "2021-04"})
    april = _value(stats_client, h, region="BY-HM", **det, **{"from": "2021-04", "to": "2021-04"})
    overall = _value(stats_client, h, region="BY-HM", **det)
    assert april is None  # the single person is hidden...
    assert spring is None  # ...and so is every period that contains them
    # ...and no two published answers differ by less than k.
    published = [v for v in (march, spring, overall) if v is not None]
    assert all(abs(a - b) == 0 or abs(a - b) >= 10 for a in published for b in published)
    # All regions minus the other regions: the same protection across the region margin.
    all_regions = _value(stats_client, h, dims="act_type", **det,
                         **{"from": "2021-04", "to": "2021-04"})
    minsk_oblast = _value(stats_client, h, region="BY-MI", **det,
                          **{"from": "2021-04", "to": "2021-04"})
    assert all_regions is None or minsk_oblast is None
    # The whole published table with every margin: an exact solver recovers no small cell.
    body = stats_client.get(ACTS, headers=h).json()
    cells, levels = _grid(body)
    assert body["suppressed_cells"] == sum(1 for v in cells.values() if v is None) > 0
    solved = determined(cells, levels)
    assert all(v == 0 or v >= 10 for v in solved.values())
    assert cells[("detention", "BY-HM", "2021-04")] is None
    for value in cells.values():
        assert value is None or value == 0 or value >= 10


def test_labels_formats_and_chart(
    stats_client: TestClient, session: Session, stats_settings: Settings
) -> None:
    add_victims(session, 12, region="BY-VI", month="2021-06", methods=("beating",),
                perpetrator="omon", act_type="torture", facility=None)
    add_victims(session, 2, region="BY-VI", month="2021-07", methods=("beating",),
                act_type="torture", facility=None)
    add_victims(session, 11, region="BY-VI", month="2021-08", methods=("beating",),
                act_type="torture", facility=None)
    _refresh(session, stats_settings)
    h = partner_key(session).headers
    r = stats_client.get("/api/v1/stats/tables/torture_methods_by_month", headers=h,
                         params={"lang": "be", "torture_method": "beating",
                                 "from": "2021-05", "to": "2021-08"})
    body = r.json()
    assert r.status_code == 200, body
    june = next(c for c in body["cells"] if c["month"]["code"] == "2021-06")
    assert june["value"] == 12 and june["torture_method"]["label"] != "beating"
    july = next(c for c in body["cells"] if c["month"]["code"] == "2021-07")
    assert july == {**july, "value": None, "suppressed": True}
    # The complementary cell: the smaller neighbour is hidden too, or 2 = total - 12 - 11.
    august = next(c for c in body["cells"] if c["month"]["code"] == "2021-08")
    assert august["suppressed"] is True
    assert body["method"]["mode"] == "suppressed" and body["footnotes"]

    r = stats_client.get("/api/v1/stats/tables/torture_methods_by_month", headers=h,
                         params={"format": "csv", "from": "2021-06", "to": "2021-07"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0] == ["torture_method", "Method of torture", "month", "Month", "value",
                       "suppressed"]
    assert ["beating", "Beating", "2021-06", "2021-06", "12", "false"] in rows

    r = stats_client.get("/api/v1/stats/tables/torture_methods_by_month/chart.svg",
                         headers=h, params={"series": "torture_method"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    ET.fromstring(r.text)  # noqa: S314 (our own output, checked to be well-formed)
    assert "Beating" in r.text and "<script" not in r.text

    cat = stats_client.get("/api/v1/stats/tables", headers=h).json()
    ids = {t["id"] for t in cat["tables"]}
    assert "acts_by_type_region_month" in ids and len(ids) == len(TABLES) == 15
    dims = cat["tables"][0]["dimensions"]
    assert dims[0]["uwazi_thesaurus"] == "/api/v1/vocabularies/act_type/uwazi"


def test_dp_budget_ledger_repeat_and_refusal(
    stats_client: TestClient, session: Session, stats_settings: Settings
) -> None:
    add_victims(session, 40, region="BY-HR", month="2021-02")
    _refresh(session, stats_settings)
    p = partner_key(session)
    admin = create_staff(session, Role.ADMIN, settings=stats_settings)
    ah = login_headers(stats_client, admin)
    r = stats_client.put(f"/api/v1/stats/partners/{p.partner_id}/policy", headers=ah,
                         json={"mode": "dp", "epsilon_per_pull": 1.0, "epsilon_budget": 2.5})
    assert r.status_code == 200, r.text
    assert r.json()["epsilon_remaining"] == 2.5
    q = {"region": "BY-HR", "dims": "region", "from": "2021-02", "to": "2021-02"}
    first = stats_client.get(ACTS, headers=p.headers, params=q).json()
    again = stats_client.get(ACTS, headers=p.headers, params=q).json()
    assert first["method"]["mode"] == "dp" and first["cells"] == again["cells"]
    assert again["method"]["repeated"] is True and again["method"]["epsilon_remaining"] == 1.5
    assert stats_client.get(ACTS, headers=p.headers,
                            params={**q, "format": "csv"}).status_code == 200
    assert stats_client.get(ACTS, headers=p.headers,
                            params={**q, "to": "2021-03"}).status_code == 200
    refused = stats_client.get(ACTS, headers=p.headers, params={**q, "to": "2021-04"})
    assert refused.status_code == 403
    err = refused.json()["error"]
    assert err["code"] == "privacy_budget_exhausted" and "ε=0.5" in err["message"]
    assert stats_client.get("/api/v1/stats/budget", headers=p.headers).json()[
        "epsilon_remaining"] == 0.5
    # A new period, set by an admin, restores the budget.
    r = stats_client.put(f"/api/v1/stats/partners/{p.partner_id}/policy", headers=ah,
                         json={"mode": "dp", "new_period": True})
    assert r.json()["epsilon_remaining"] == 2.5
    with Session(services_of(stats_client.app).engine) as s:
        pulls = s.exec(select(AuditEntry).where(col(AuditEntry.action) == "partner.pull")).all()
        outcomes = [json.loads(e.details)["outcome"] for e in pulls]
        assert outcomes.count("ok") == 4 and outcomes.count("refused_budget") == 1
        assert all(e.actor_kind == "partner" and e.target == "acts_by_type_region_month"
                   for e in pulls)


def test_authentication_validation_and_rate_limit(
    stats_client: TestClient, session: Session, stats_settings: Settings
) -> None:
    assert stats_client.get("/api/v1/stats/tables").status_code == 401
    bad = {"X-API-Key": "dkp_" + "x" * 43}
    assert stats_client.get("/api/v1/stats/tables", headers=bad).status_code == 401
    h = partner_key(session).headers
    assert stats_client.get(ACTS, headers=h).json()["error"]["code"] == "stats_not_ready"
    _refresh(session, stats_settings)
    assert stats_client.get("/api/v1/stats/tables/nope", headers=h).status_code == 404
    for params, needle in [({"occupation": "x"}, "Unknown parameter"),
                           ({"region": "BY-XX"}, "not a code of region"),
                           ({"from": "2021-13"}, "YYYY-MM"),
                           ({"from": "2021-05", "to": "2021-01"}, "after"),
                           ({"dims": "name"}, "no dimension")]:
        r = stats_client.get(ACTS, headers=h, params=params)
        assert r.status_code == 422 and needle in r.json()["error"]["message"]
    services_of(stats_client.app).stats_limiter.per_hour = 3
    codes = [stats_client.get(ACTS, headers=h, params={"dims": "region"}).status_code
             for _ in range(4)]
    assert 429 in codes and "Retry-After" in stats_client.get(ACTS, headers=h).headers


def test_min_cell_setting_is_honoured_and_never_below_five(
    stats_client: TestClient, session: Session, stats_settings: Settings
) -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="at least 5"):
        Settings(stats_min_cell=4)
    add_victims(session, 6, region="BY-MA", month="2021-09")
    add_victims(session, 20, region="BY-MA", month="2021-10")
    five = stats_settings.model_copy(update={"stats_min_cell": 5})
    _refresh(session, five)
    h = partner_key(session).headers
    assert _value(stats_client, h, region="BY-MA", act_type="detention",
                  **{"from": "2021-09", "to": "2021-09"}) == 6


def test_releases_are_batched_and_old_ones_pruned(session: Session, stats_settings: Settings
                                                  ) -> None:
    from datetime import timedelta

    from api.core.models import utcnow
    from api.stats import repository

    now = utcnow()
    first = service.refresh(session, stats_settings, now)
    add_victims(session, 12, region="BY-HO")
    # Within the interval the same release stands: one new case is never a release of its own.
    assert service.refresh(session, stats_settings, now + timedelta(hours=1)).id == first.id
    later = now + timedelta(hours=stats_settings.stats_release_interval_hours + 1)
    second = service.refresh(session, stats_settings, later)
    assert second.id != first.id
    for i in range(stats_settings.stats_releases_kept + 1):
        service.refresh(session, stats_settings, later + timedelta(minutes=i + 1), force=True)
    session.commit()
    assert repository.latest_release(session) is not None
    assert session.get(type(first), first.id) is None  # pruned, cells with it


def test_one_person_adds_to_at_most_the_declared_number_of_cells(
    session: Session, stats_settings: Settings
) -> None:
    from api.cases.models import CaseAct, CasePerson
    from api.stats import repository
    from api.stats.catalogue import BY_ID
    from tests.stats.conftest import SEALED

    [person_id] = add_victims(session, 1, month="2021-01")
    person = session.get(CasePerson, person_id)
    assert person is not None
    for m in range(2, 13):  # eleven more acts, each in a month (and so a cell) of its own
        session.add(CaseAct(case_id=person.case_id, victim_id=person_id, act_type="arrest",
                            start_month=f"2021-{m:02d}", region="BY-HM", sealed=SEALED))
    session.commit()
    spec = BY_ID["acts_by_type_region_month"]
    assert repository.contribution_bound(session, spec) == 12
    rows = repository.count_table(session, spec, stats_settings.stats_countable_states)
    assert sum(n for *_, n in rows) == spec.max_contributions == 8
    months = sorted(r[2] for r in rows)
    assert months[0] == "2021-01" and months[-1] == "2021-08"  # the first cells, by month


def test_openapi_has_a_schema_for_each_stats_response(stats_client: TestClient) -> None:
    spec = stats_client.get("/api/openapi.json").json()
    ops = {(m.upper(), p): op for p, item in spec["paths"].items() if p.startswith("/api/v1/stats")
           for m, op in item.items()}
    assert len(ops) == 7
    for (method, path), op in ops.items():
        content = op["responses"]["200"]["content"]
        if path.endswith("chart.svg"):
            assert "image/svg+xml" in content, path
            continue
        ref = content["application/json"]["schema"]
        assert "$ref" in ref or "oneOf" in ref, (method, path, ref)
    table = ops["GET", "/api/v1/stats/tables/{table_id}"]["responses"]["200"]["content"]
    assert "text/csv" in table
    names = spec["components"]["schemas"]
    for name in ("Catalogue", "TableData", "ExactBudget", "DpBudget", "ReleaseOut"):
        assert name in names


def test_a_pull_is_rendered_after_its_transaction_commits(
    stats_client: TestClient, session: Session, stats_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under DP the partner's budget row is locked until the commit; rendering after it
    keeps that lock (and SQLite's write lock) as short as the pull's queries."""
    add_victims(session, 10, region="BY-HR", month="2021-02")
    _refresh(session, stats_settings)
    p = partner_key(session)
    admin = create_staff(session, Role.ADMIN, settings=stats_settings)
    session.commit()
    r = stats_client.put(f"/api/v1/stats/partners/{p.partner_id}/policy",
                         headers=login_headers(stats_client, admin),
                         json={"mode": "dp", "epsilon_per_pull": 1.0, "epsilon_budget": 5})
    assert r.status_code == 200, r.text
    engine = services_of(stats_client.app).engine
    seen: list[tuple[int, bool]] = []
    original = formats.as_json

    def rendering(result: service.TableResult, lang: Any) -> dict[str, Any]:
        # From another connection, while the route renders: its audit entry is already
        # committed, and on PostgreSQL nobody holds the budget row.
        with Session(engine) as other:
            pulls = other.exec(select(AuditEntry).where(
                col(AuditEntry.action) == "partner.pull")).all()
            free = True
            if engine.dialect.name == "postgresql":
                free = other.exec(select(StatsPartnerPolicy).where(
                    col(StatsPartnerPolicy.partner_id) == p.partner_id
                ).with_for_update(nowait=True)).first() is not None
            other.rollback()
        seen.append((len(pulls), free))
        return original(result, lang)

    monkeypatch.setattr(formats, "as_json", rendering)
    r = stats_client.get(ACTS, headers=p.headers, params={"dims": "region"})
    assert r.status_code == 200, r.text
    assert seen == [(1, True)]
