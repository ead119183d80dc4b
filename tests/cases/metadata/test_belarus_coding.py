"""Belarus coding (issue 17, item 4): administrative penalties, named facilities, list
designations, trial in absentia, transnational repression, political-prisoner recognition.

Every new field is a plaintext coarse code that statistics can group on; names of places
and people typed beside them stay sealed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import text
from sqlmodel import Session, select

from api.cases import service
from api.cases.metadata.document import MetadataPatch
from api.cases.models import Case, CaseAct, CaseDesignation, CaseDetention, CasePerson
from api.core.settings import Settings
from tests.cases.factory import Staff, make_case
from tests.cases.metadata.test_metadata import _all_bytes, _patch
from tests.factories import login_headers

VICTIM = uuid.UUID(int=201)
BROTHER = uuid.UUID(int=202)
FACILITY_TEXT = "Canary cell 14, Akrestsina"


def belarus_document() -> dict[str, Any]:
    """A 2020 protester: 15 days at Akrestsina with a fine, tortured there, later sentenced
    under CC 342 in absentia while living in Lithuania, recognised a political prisoner,
    listed as 'extremist'; his brother pressured and refused a passport."""
    return {
        "persons": [
            {"id": str(VICTIM), "role": "victim", "sex": "male", "citizenship": "BY",
             "residence_country": "LT",
             "designations": [{"list_type": "terrorist_list", "month": "2024-02"},
                              {"list_type": "extremist_persons", "month": "2023-05"},
                              {"list_type": "other", "month": None},
                              {"list_type": "extremist_persons", "month": "2023-05"}],
             "political_prisoner": {"recognised_by": "viasna", "month": "2021-02"},
             "private": {"name": "Canary Protester"}},
            {"id": str(BROTHER), "role": "relative", "residence_country": "BY",
             "private": {"name": "Canary Brother"}},
        ],
        "acts": [
            {"victim_id": str(VICTIM), "act_type": "detention", "start_month": "2020-08",
             "region": "BY-HM", "facility": "tsip_akrestsina_minsk",
             "detention": {"legal_regime": "administrative_arrest", "facility_type": "tsip",
                           "admin_arrest_days": 15, "fine_band": "bu_11_30",
                           "legal_basis": ["cao_24_23"],
                           "private": {"facility_name": FACILITY_TEXT}}},
            {"victim_id": str(VICTIM), "act_type": "torture", "start_month": "2020-08",
             "facility": "tsip_akrestsina_minsk",
             "torture": {"methods": ["beating"]},
             "perpetrators": [{"perpetrator_type": "omon"}]},
            {"victim_id": str(VICTIM), "act_type": "conviction_in_absentia",
             "start_month": "2023-11", "region": "abroad",
             "detention": {"legal_regime": "imprisonment", "special_proceedings": True,
                           "verdict_month": "2023-11", "legal_basis": ["cc_342", "cc_361_1"]}},
            {"victim_id": str(BROTHER), "act_type": "pressure_on_relatives",
             "start_month": "2024-03", "facility": "unknown",
             "perpetrators": [{"perpetrator_type": "border_guards"}]},
            {"victim_id": str(BROTHER), "act_type": "passport_refusal", "start_month": "2024-04"},
        ],
    }


def _made(session: Session, settings: Settings, staff: Staff) -> Case:
    made = make_case(session, settings, wrap_to=[staff.cw])
    return _patch(session, staff, settings, made.id, belarus_document(), 1)


def test_belarus_codes_round_trip_through_patch_and_detail(
        session: Session, settings: Settings, staff: Staff) -> None:
    case = _made(session, settings, staff)
    meta = service.detail(session, staff.p("cw"), case.id).metadata
    victim = next(p for p in meta.persons if p.id == VICTIM)
    assert victim.residence_country == "LT"
    # Listings come back ordered by month (undated first), the duplicate stored once.
    assert [(d.list_type, d.month) for d in victim.designations] == [
        ("other", None), ("extremist_persons", "2023-05"), ("terrorist_list", "2024-02")]
    assert victim.political_prisoner is not None
    assert (victim.political_prisoner.recognised_by, victim.political_prisoner.month) == (
        "viasna", "2021-02")
    brother = next(p for p in meta.persons if p.id == BROTHER)
    assert brother.designations == [] and brother.political_prisoner is None

    by_type = {a.act_type: a for a in meta.acts}
    arrest = by_type["detention"]
    assert arrest.facility == "tsip_akrestsina_minsk" and arrest.detention is not None
    assert (arrest.detention.admin_arrest_days, arrest.detention.fine_band,
            arrest.detention.special_proceedings) == (15, "bu_11_30", None)
    assert arrest.detention.private.facility_name == FACILITY_TEXT
    assert by_type["torture"].facility == "tsip_akrestsina_minsk"
    absentia = by_type["conviction_in_absentia"].detention
    assert absentia is not None and absentia.special_proceedings is True
    assert absentia.verdict_month == "2023-11"
    assert absentia.legal_basis == ["cc_342", "cc_361_1"]
    assert by_type["pressure_on_relatives"].perpetrators[0].perpetrator_type == "border_guards"
    assert by_type["passport_refusal"].facility is None

    # What the detail shows is what a PATCH takes back: sending it again changes nothing.
    again = MetadataPatch.model_validate(meta.model_dump(
        mode="json", include={"persons", "acts"}))
    service.edit_metadata(session, staff.p("cw"), case.id, again, case.version, settings)
    session.commit()
    assert service.detail(session, staff.p("cw"), case.id).metadata.model_dump(
        include={"persons", "acts"}, exclude={"acts": {"__all__": {"id"}}}) == meta.model_dump(
        include={"persons", "acts"}, exclude={"acts": {"__all__": {"id"}}})


def test_new_codes_are_plain_columns_and_nothing_named_leaks(
        session: Session, settings: Settings, staff: Staff) -> None:
    case = _made(session, settings, staff)
    # What the indicators will group on, readable without the case key.
    torture_at = session.exec(select(CaseAct.facility).where(
        CaseAct.case_id == case.id, CaseAct.act_type == "torture")).all()
    assert torture_at == ["tsip_akrestsina_minsk"]
    arrests = session.exec(select(CaseDetention.admin_arrest_days, CaseDetention.fine_band)
                           .where(CaseDetention.case_id == case.id,
                                  CaseDetention.admin_arrest_days.is_not(None))  # type: ignore[union-attr]
                           ).all()
    assert [tuple(r) for r in arrests] == [(15, "bu_11_30")]
    # Convictions per month by article: the verdict month beside the act's legal basis.
    convictions = session.execute(text(
        "SELECT d.verdict_month, k.code FROM case_detention d JOIN case_code k "
        "ON k.subject_id = d.act_id AND k.vocab = 'legal_basis' "
        "WHERE d.verdict_month IS NOT NULL")).all()
    assert sorted(tuple(r) for r in convictions) == [("2023-11", "cc_342"),
                                                    ("2023-11", "cc_361_1")]
    person = session.get(CasePerson, VICTIM)
    assert person is not None
    assert (person.residence_country, person.political_prisoner_recognised_by,
            person.political_prisoner_month) == ("LT", "viasna", "2021-02")
    listed = session.exec(select(CaseDesignation.list_type, CaseDesignation.month)
                          .where(CaseDesignation.person_id == VICTIM)).all()
    assert sorted((r[0], r[1] or "") for r in listed) == [
        ("extremist_persons", "2023-05"), ("other", ""), ("terrorist_list", "2024-02")]
    dump = _all_bytes(session)
    for row in session.execute(text("SELECT * FROM case_designation")):
        dump += b"".join(str(v).encode() for v in row)
    assert b"Canary" not in dump and b"cell 14" not in dump


def test_removing_a_listing_or_a_person_removes_their_rows(
        session: Session, settings: Settings, staff: Staff) -> None:
    case = _made(session, settings, staff)
    doc = belarus_document()
    doc["persons"][0]["designations"] = [{"list_type": "extremist_persons", "month": None}]
    doc["persons"][0]["political_prisoner"] = None
    doc["acts"] = [a for a in doc["acts"] if a["victim_id"] == str(VICTIM)]
    doc["persons"] = doc["persons"][:1]
    case = _patch(session, staff, settings, case.id, doc, case.version)
    assert [(r.person_id, r.list_type, r.month) for r in session.exec(
        select(CaseDesignation).where(CaseDesignation.case_id == case.id))] == [
        (VICTIM, "extremist_persons", None)]
    person = session.get(CasePerson, VICTIM)
    assert person is not None and person.political_prisoner_recognised_by is None
    assert session.get(CasePerson, BROTHER) is None


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["acts"][0].update(facility="akrestsina"), "facility"),
    (lambda d: d["acts"][0]["detention"].update(fine_band="500_roubles"), "fine_band"),
    (lambda d: d["acts"][0]["detention"].update(admin_arrest_days=-1), "admin_arrest_days"),
    (lambda d: d["acts"][0]["detention"].update(admin_arrest_days=400), "admin_arrest_days"),
    (lambda d: d["persons"][0].update(residence_country="Lithuania"), "residence_country"),
    (lambda d: d["acts"][2]["detention"].update(verdict_month="2023-11-05"), "verdict_month"),
    (lambda d: d["persons"][0]["designations"][0].update(list_type="kgb"), "list_type"),
    (lambda d: d["persons"][0]["designations"][0].update(month="2023-13"), "month"),
    (lambda d: d["persons"][0].update(political_prisoner={"month": "2021-02"}),
     "recognised_by"),
    (lambda d: d["persons"][0]["political_prisoner"].update(recognised_by="me"),
     "recognised_by"),
    (lambda d: d["acts"][3]["perpetrators"][0].update(perpetrator_type="border"),
     "perpetrator_type"),
])
def test_unknown_or_out_of_range_codes_are_refused(change: Any, field: str) -> None:
    doc = belarus_document()
    change(doc)
    with pytest.raises(ValidationError) as info:
        MetadataPatch.model_validate(doc)
    assert [e["loc"][-1] for e in info.value.errors()] == [field]


def test_patch_and_detail_over_http(app_client: TestClient, session: Session,
                                    settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw])
    session.rollback()  # SQLite: end the test's transaction so the app can write
    cw = login_headers(app_client, staff.cw)
    url = f"/api/v1/cases/{made.id}"
    r = app_client.patch(url, json=belarus_document(), headers={**cw, "If-Match": '"1"'})
    assert r.status_code == 200, r.text
    body = app_client.get(url, headers=cw).json()["metadata"]
    victim = next(p for p in body["persons"] if p["id"] == str(VICTIM))
    assert victim["residence_country"] == "LT"
    assert victim["political_prisoner"] == {"recognised_by": "viasna", "month": "2021-02"}
    assert {"list_type": "terrorist_list", "month": "2024-02"} in victim["designations"]
    arrest = next(a for a in body["acts"] if a["act_type"] == "detention")
    assert arrest["facility"] == "tsip_akrestsina_minsk"
    assert arrest["detention"]["admin_arrest_days"] == 15
    bad = app_client.patch(url, json={"acts": [{**belarus_document()["acts"][0],
                                                "facility": "Canary prison"}]},
                           headers={**cw, "If-Match": '"2"'})
    assert bad.status_code == 422 and "Canary" not in bad.text
