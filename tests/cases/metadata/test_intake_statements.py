"""Intake flows into the case: what a report states becomes case metadata, with provenance.

End to end on both engines: reports through the web form (the HTML form route) and the
JSON API, reviewed and verified through the API with no metadata typed again, appear in
the partner statistics after a refresh and unlock the WGEID draft. Then the caseworker's
confirm/correct path, consent confirmation, and a follow-up that names persons again.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from api.app import create_app
from api.auth.roles import Role
from api.cases import models as cm
from api.cases.models import Case, CaseConsent, CasePerson
from api.core.settings import Settings
from api.intake.backfill import backfill
from api.stats import service as stats_service
from tests.conftest import DbUnderTest
from tests.factories import (
    StaffHandle,
    create_recovery_key_text,
    create_staff,
    login_headers,
    sample_report,
)
from tests.stats.conftest import partner_key

CASES = "/api/v1/cases"
ACTS = "/api/v1/stats/tables/acts_by_type_region_month"
NAME = "Canary Ivanovich Statementov"


@dataclass
class World:
    client: TestClient
    settings: Settings
    engine: Engine
    cw: StaffHandle
    coord: StaffHandle
    recovery_text: str

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def staff(self, who: str = "cw") -> dict[str, str]:
        return login_headers(self.client, getattr(self, who))


@pytest.fixture
def world(database: DbUnderTest, engine: Engine, tmp_path: Path) -> Iterator[World]:
    settings = database.make_settings(tmp_path / "data", stats_first_month="2021-01",
                                      stats_pulls_per_key_per_hour=1000, stats_min_cell=5)
    with Session(engine, expire_on_commit=False) as s:
        recovery_text = create_recovery_key_text(s)
        cw = create_staff(s, Role.CASEWORKER, on_intake_duty=True, settings=settings)
        coord = create_staff(s, Role.COORDINATOR, on_intake_duty=True, settings=settings)
    with TestClient(create_app(settings, engine), base_url="http://127.0.0.1:8000") as client:
        yield World(client, settings, engine, cw, coord, recovery_text)


def _web_report(w: World, consents: tuple[str, ...] = ("aggregate_statistics",),
                **fields: str) -> str:
    """Send the HTML form; returns the case reference on the receipt page."""
    page = w.client.get("/report")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    values = {
        "lang": "en", "website": "", "role": "victim", "categories": "detention",
        "narrative": "They held me at Akrestsina.", "when_day": "", "when_month": "3",
        "when_year": "2025", "region": "BY-HM", "facility_type": "tsip", "place_details": "",
        "person_name": NAME, "person_details": "", "perpetrator_details": "",
        "submitter_name": "", "contact": "",
    } | fields
    data: list[tuple[str, Any]] = [("csrf", (None, token.group(1)))]
    data += [(k, (None, v)) for k, v in values.items()]
    data += [("consent", (None, c)) for c in consents]
    data += [("files", ("", b"", "application/octet-stream"))]
    r = w.client.post("/report", files=data)
    assert r.status_code == 200 and "Your report has been received" in r.text, r.text[:2000]
    reference = re.search(r"DKZ-[0-9A-Z]{4}-[0-9A-Z]{4}", r.text)
    assert reference
    return reference.group(0)


def _api_report(w: World, **overrides: Any) -> dict[str, Any]:
    r = w.client.post("/api/v1/submissions", json=sample_report(**overrides))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _verify(w: World, case_id: uuid.UUID) -> None:
    """Reviewed by the caseworker, verified by the coordinator (four eyes), via the API."""
    for who, to in (("cw", "triage"), ("cw", "in_review"), ("coord", "verified")):
        r = w.client.post(f"{CASES}/{case_id}/transitions", json={"to": to},
                          headers=w.staff(who))
        assert r.status_code == 200, r.text


def _case_ids(w: World) -> list[uuid.UUID]:
    with w.session() as s:
        return [c.id for c in s.exec(select(Case).order_by(col(Case.id)))]


def _detail(w: World, case_id: uuid.UUID) -> dict[str, Any]:
    r = w.client.get(f"{CASES}/{case_id}", headers=w.staff())
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _self_report() -> dict[str, Any]:
    return {
        "reporter": {"role": "victim", "name": NAME, "contact": "signal: canary"},
        "acts": ["detention"], "when": {"start": "2025-03"},
        "where": {"region": "BY-HM", "facility_type": "tsip", "details": "Akrestsina, cell 7"},
        "consent": {"internal_handling": True, "aggregate_statistics": True},
    }


def test_reports_reach_statistics_and_referrals_without_re_entry(world: World) -> None:
    w = world
    for _ in range(3):
        _web_report(w)
    for _ in range(3):
        _api_report(w, **_self_report())
    missing = _api_report(w, reporter={"role": "relative", "relationship": "brother"},
                          acts=["disappearance"], when={"start": "2025-03", "ongoing": True},
                          where={"region": "BY-HR", "facility_type": "border_checkpoint"},
                          persons=[{"role": "victim", "name": "Canary Missingson",
                                    "whereabouts_unknown": True}],
                          consent={"internal_handling": True, "share_un": True,
                                   "un_name_to_government": True,
                                   "aggregate_statistics": True})
    web_missing = _web_report(w, consents=("share_un", "un_name_to_government"),
                              role="relative", categories="disappearance", region="BY-MA",
                              facility_type="", person_name="Canary Webmissing")
    no_un = _api_report(w, reporter={"role": "relative"}, acts=["disappearance"],
                        persons=[{"role": "victim", "name": "Canary Other"}])
    ids = _case_ids(w)
    assert len(ids) == 9
    for case_id in ids:
        _verify(w, case_id)  # nothing but transitions: no PATCH, no consent typed

    by_ref = {}
    for case_id in ids:
        d = _detail(w, case_id)
        by_ref[d["reference"]] = (case_id, d)
        meta = d["metadata"]
        assert meta["unconfirmed"] == len(meta["persons"]) + len(meta["acts"]) > 0
        for item in meta["persons"] + meta["acts"]:
            prov = item["provenance"]
            assert prov["source"] == "intake" and prov["submission_id"]
            assert prov["statement"] == f"as reported at intake, {prov['reported_on']}"
        assert d["consents"] and all(c["source"] == "intake" and c["recorded_by_id"] is None
                                     for c in d["consents"])
    # A victim's own report: one victim with the name (sealed), one detention, own consent.
    self_cases = [d for _, d in by_ref.values()
                  if [p["role"] for p in d["metadata"]["persons"]] == ["victim"]]
    assert len(self_cases) == 6
    for d in self_cases:
        [victim] = d["metadata"]["persons"]
        assert victim["private"]["name"] == NAME
        [act] = d["metadata"]["acts"]
        assert (act["act_type"], act["start_month"], act["region"], act["victim_id"]) == (
            "detention", "2025-03", "BY-HM", victim["id"])
        assert act["date_precision"] == "unknown_day"
        assert act["detention"]["facility_type"] == "tsip"
        assert {(c["person_id"], c["scope"], c["on_behalf"]) for c in d["consents"]} == {
            (victim["id"], "internal_handling", False),
            (victim["id"], "aggregate_statistics", False)}
    # The relative's report: the relative (source of the consent) and the missing brother.
    missing_id, d = by_ref[missing["reference"]]
    persons = {p["role"]: p for p in d["metadata"]["persons"]}
    assert set(persons) == {"relative", "victim"}
    assert persons["relative"]["private"]["relationship"] == "brother"
    [act] = d["metadata"]["acts"]
    assert act["disappearance"]["current_status"] == "still_missing"
    assert act["disappearance"]["last_seen_month"] == "2025-03"
    behalf = {c["scope"] for c in d["consents"]
              if c["person_id"] == persons["victim"]["id"] and c["on_behalf"]}
    assert {"share_un", "share_un_wgeid", "share_un_wgad", "un_name_to_government"} <= behalf

    # Nothing identifying lies in plaintext columns: the name is only in sealed bytes.
    with w.session() as s:
        for row in s.exec(select(CasePerson)):
            assert NAME.encode() not in row.sealed
            assert NAME not in repr((row.role, row.sex, row.age_band, row.source))

    # Statistics: the six victims who consented themselves, in one cell, after a refresh.
    with w.session() as s:
        stats_service.refresh(s, w.settings, force=True)
        s.commit()
        partner = partner_key(s)
    r = w.client.get(ACTS, headers=partner.headers, params={
        "dims": "region", "region": "BY-HM", "act_type": "detention",
        "from": "2025-03", "to": "2025-03"})
    assert r.status_code == 200, r.text
    [cell] = [c for c in r.json()["cells"] if c["region"]["code"] == "BY-HM"]
    assert cell["value"] == 6

    # Referral: the WGEID draft is built from the report's statements alone.
    r = w.client.get(f"{CASES}/{missing_id}/referral-drafts/wgeid", headers=w.staff())
    assert r.status_code == 200, r.text
    [entry] = r.json()["victims"]
    assert entry["identity"]["name"] == "Canary Missingson"
    web_id, _ = by_ref[web_missing]
    r = w.client.get(f"{CASES}/{web_id}/referral-drafts/wgeid", headers=w.staff())
    assert r.status_code == 200, r.text
    assert r.json()["victims"][0]["identity"]["name"] == "Canary Webmissing"
    # Without consent to share with the UN the gate still holds.
    other_id, _ = by_ref[no_un["reference"]]
    r = w.client.get(f"{CASES}/{other_id}/referral-drafts/wgeid", headers=w.staff())
    assert r.status_code == 409 and r.json()["error"]["code"] == "consent_missing"


def test_a_relatives_consent_for_the_victim_is_not_counted_in_statistics(world: World) -> None:
    w = world
    for _ in range(6):
        _api_report(w, reporter={"role": "relative"}, acts=["detention"],
                    when={"start": "2025-04"}, where={"region": "BY-VI"},
                    persons=[{"role": "victim"}])
    for case_id in _case_ids(w):
        _verify(w, case_id)
    with w.session() as s:
        behalf = s.exec(select(CaseConsent).where(col(CaseConsent.on_behalf))).all()
        assert {c.scope for c in behalf} == {"internal_handling", "aggregate_statistics"}
        stats_service.refresh(s, w.settings, force=True)
        s.commit()
        partner = partner_key(s)
    r = w.client.get(ACTS, headers=partner.headers, params={
        "dims": "region", "region": "BY-VI", "from": "2025-04", "to": "2025-04"})
    assert r.status_code == 200, r.text
    assert all(c["value"] in (0, None) for c in r.json()["cells"])


def _patch(w: World, case_id: uuid.UUID, body: dict[str, Any]) -> None:
    etag = w.client.get(f"{CASES}/{case_id}", headers=w.staff()).headers["etag"]
    r = w.client.patch(f"{CASES}/{case_id}", json=body, headers={**w.staff(), "If-Match": etag})
    assert r.status_code == 200, r.text


def test_confirm_or_correct_through_the_metadata_api(world: World) -> None:
    w = world
    _api_report(w, **_self_report(), persons=[{"role": "victim"}, {"role": "witness",
                                                                    "name": "Canary Witness"}])
    [case_id] = _case_ids(w)
    meta = _detail(w, case_id)["metadata"]
    roles = {p["role"]: p for p in meta["persons"]}
    victim, witness = roles["victim"], roles["witness"]
    assert victim["private"]["name"] == NAME  # the submitter reporting as the victim
    assert meta["unconfirmed"] == 3

    # Sent back as read: still the submitter's statement.
    _patch(w, case_id, {"persons": meta["persons"]})
    assert _detail(w, case_id)["metadata"]["unconfirmed"] == 3
    # Corrected (the witness's sex added): the caseworker's now. Left without its
    # provenance (a client that builds items itself): confirmed, the caseworker's too.
    corrected = witness | {"sex": "female"}
    confirmed = {k: v for k, v in victim.items() if k != "provenance"}
    _patch(w, case_id, {"persons": [confirmed, corrected]})
    meta = _detail(w, case_id)["metadata"]
    assert [p["provenance"]["source"] for p in meta["persons"]] == ["staff", "staff"]
    assert meta["unconfirmed"] == 1  # the act
    assert meta["acts"][0]["provenance"]["source"] == "intake"
    # A client cannot make its own item an intake statement.
    forged = meta["acts"][0] | {"id": None, "act_type": "torture"}
    _patch(w, case_id, {"acts": [meta["acts"][0], forged]})
    acts = _detail(w, case_id)["metadata"]["acts"]
    assert sorted(a["provenance"]["source"] for a in acts) == ["intake", "staff"]


def test_confirming_an_intake_consent_supersedes_it(world: World) -> None:
    w = world
    _api_report(w, **_self_report())
    [case_id] = _case_ids(w)
    d = _detail(w, case_id)
    [intake_row] = [c for c in d["consents"] if c["scope"] == "aggregate_statistics"]
    r = w.client.post(f"{CASES}/{case_id}/consents", headers=w.staff(), json={
        "person_id": intake_row["person_id"], "scope": "aggregate_statistics"})
    assert r.status_code == 201, r.text
    assert (r.json()["source"], r.json()["version"], r.json()["active"]) == ("staff", 2, True)
    rows = [c for c in _detail(w, case_id)["consents"] if c["scope"] == "aggregate_statistics"]
    assert [(c["version"], c["source"], c["active"]) for c in rows] == [
        (1, "intake", False), (2, "staff", True)]
    # Once confirmed, giving it again is the usual conflict; revoking leaves none active.
    again = w.client.post(f"{CASES}/{case_id}/consents", headers=w.staff(), json={
        "person_id": intake_row["person_id"], "scope": "aggregate_statistics"})
    assert again.status_code == 409
    r = w.client.post(f"{CASES}/{case_id}/consents/{rows[1]['id']}/revoke", headers=w.staff())
    assert r.status_code == 200
    assert not [c for c in _detail(w, case_id)["consents"]
                if c["scope"] == "aggregate_statistics" and c["active"]]


def test_a_followup_adds_its_persons_without_duplicates(world: World) -> None:
    w = world
    sub = _api_report(w, reporter={"role": "relative"}, acts=["detention"],
                      persons=[{"role": "victim", "name": "Canary  Brother"},
                               {"role": "witness"}])
    [case_id] = _case_ids(w)
    before = _detail(w, case_id)["metadata"]["persons"]
    assert len(before) == 3  # victim, witness, the relative who reported
    r = w.client.post("/api/v1/followup/session", json={"receipt": sub["receipt"]})
    assert r.status_code == 201, r.text
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    r = w.client.post("/api/v1/followup/additions", headers=auth, json={
        "narrative": "More.",
        "persons": [{"role": "victim", "name": "canary brother", "age_band": "age_20_29",
                     "phone": "+375 canary"},
                    {"role": "witness"},
                    {"role": "victim", "name": "Canary Cousin"}]})
    assert r.status_code == 201, r.text
    after = _detail(w, case_id)["metadata"]["persons"]
    assert len(after) == 4  # only the cousin is new
    [first] = [p["id"] for p in before if p["private"]["name"] == "Canary  Brother"]
    brother = next(p for p in after if p["id"] == first)
    # Filled in, not overwritten: the first report's spelling stays.
    assert brother["private"]["name"] == "Canary  Brother"
    assert (brother["age_band"], brother["private"]["phone"]) == ("age_20_29", "+375 canary")
    cousin = next(p for p in after if p["private"]["name"] == "Canary Cousin")
    assert cousin["provenance"]["submission_id"] != brother["provenance"]["submission_id"]


def test_a_merge_carries_the_reports_statements_without_duplicates(world: World) -> None:
    w = world
    first = _api_report(w, **_self_report())
    second = _api_report(w, **_self_report())  # the same victim, the same detention
    third = _api_report(w, reporter={"role": "relative"}, acts=["torture"],
                        persons=[{"role": "victim", "name": "Canary Third"}])
    refs = {_detail(w, cid)["reference"]: cid for cid in _case_ids(w)}
    target = refs[first["reference"]]
    for other in (second, third):
        r = w.client.post(f"{CASES}/{target}/merge", headers=w.staff("coord"),
                          json={"from_case_id": str(refs[other["reference"]])})
        assert r.status_code == 200, r.text
    d = _detail(w, target)
    names = sorted(p["private"]["name"] or "" for p in d["metadata"]["persons"])
    # One Statementov (the duplicate report matched him), the third report's relative
    # (unnamed) and victim.
    assert names == sorted(["", "Canary Third", NAME])
    acts = sorted((a["act_type"], a["provenance"]["source"]) for a in d["metadata"]["acts"])
    assert acts == [("detention", "intake"), ("torture", "intake")]
    third_victim = next(p["id"] for p in d["metadata"]["persons"]
                        if p["private"]["name"] == "Canary Third")
    assert {c["scope"] for c in d["consents"]
            if c["person_id"] == third_victim and c["active"]} == {
        "internal_handling", "aggregate_statistics"}
    statementov = next(p["id"] for p in d["metadata"]["persons"]
                       if p["private"]["name"] == NAME)
    assert len([c for c in d["consents"] if c["person_id"] == statementov]) == 2


def _forget_statements(w: World) -> None:
    """Make the cases look as they did before intake statements (migration 0014)."""
    with w.session() as s:
        for model in (cm.CaseConsent, cm.CaseDetention, cm.CaseTorture, cm.CaseDisappearance,
                      cm.CaseInvolvement, cm.CaseAct, cm.CaseCode, cm.CasePerson):
            s.execute(delete(model))
        s.commit()


def test_backfill_gives_existing_cases_their_reports_statements_once(world: World) -> None:
    w = world
    sub = _api_report(w, **_self_report())
    r = w.client.post("/api/v1/followup/session", json={"receipt": sub["receipt"]})
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    assert w.client.post("/api/v1/followup/additions", headers=auth, json={
        "persons": [{"role": "witness", "name": "Canary Late Witness"}]}).status_code == 201
    _api_report(w, reporter={"role": "relative"}, acts=["disappearance"],
                persons=[{"role": "victim", "name": "Canary Gone"}],
                consent={"internal_handling": True, "share_un": True,
                         "un_name_to_government": True})
    before = {cid: _detail(w, cid) for cid in _case_ids(w)}
    _forget_statements(w)
    assert all(not _detail(w, cid)["metadata"]["persons"] for cid in before)

    with w.session() as s:
        result = backfill(s, w.recovery_text)
        s.commit()
    assert (result.cases, result.reports, result.unreadable) == (2, 3, 0)
    for cid, was in before.items():
        now = _detail(w, cid)
        assert sorted((p["role"], p["private"]["name"]) for p in now["metadata"]["persons"]) \
            == sorted((p["role"], p["private"]["name"]) for p in was["metadata"]["persons"])
        assert sorted(a["act_type"] for a in now["metadata"]["acts"]) == sorted(
            a["act_type"] for a in was["metadata"]["acts"])
        assert sorted((c["scope"], c["on_behalf"]) for c in now["consents"]) == sorted(
            (c["scope"], c["on_behalf"]) for c in was["consents"])
    with w.session() as s:
        again = backfill(s, w.recovery_text)
        s.commit()
    assert (again.cases, again.reports) == (0, 0)


def test_backfill_command_reads_the_recovery_key_from_stdin(
        world: World, database: DbUnderTest, tmp_path: Path) -> None:
    from tests.audit.test_cli import _dokaz

    _api_report(world, **_self_report())
    _forget_statements(world)
    wrong = _dokaz(database, tmp_path, "intake", "backfill-statements", "--recovery-key-stdin",
                   stdin="DOKAZ-RK1-NOT-THIS-ONE\n")
    assert wrong.returncode == 1 and "error:" in wrong.stderr
    ran = _dokaz(database, tmp_path, "intake", "backfill-statements", "--recovery-key-stdin",
                 stdin=world.recovery_text + "\n")
    assert ran.returncode == 0, ran.stderr
    assert "1 case(s) given the statements of 1 report(s)" in ran.stdout
    assert world.recovery_text not in ran.stdout + ran.stderr
    [cid] = _case_ids(world)
    assert _detail(world, cid)["metadata"]["persons"]
