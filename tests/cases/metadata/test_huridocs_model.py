"""HURIDOCS model completed (issue 17, items 3 and 5): Information, relationships, chains
of events, perpetrators as persons followed across cases, and the Istanbul Protocol
structure of a torture detail. Sealed where identifying, coded where coarse."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import create_engine, inspect, text, true
from sqlmodel import Session, select

from api.cases import service
from api.cases.metadata import store
from api.cases.metadata.document import MetadataPatch
from api.cases.models import (
    Case,
    CaseCode,
    CaseEvidence,
    CaseInformation,
    CaseInvolvement,
    CasePerson,
    CaseRelationship,
    CaseTortureMethod,
    CaseWitness,
)
from api.core import migrations
from api.core.errors import Conflict, InvalidInput
from api.core.settings import Settings
from tests.cases.factory import Staff, make_case
from tests.conftest import DbUnderTest
from tests.factories import login_headers
from tests.foundation.test_migrations import _fresh_db, _seed_every_table

VICTIM = uuid.UUID(int=201)
BROTHER = uuid.UUID(int=202)
OFFICER = uuid.UUID(int=203)
WITNESS = uuid.UUID(int=204)
ARREST = uuid.UUID(int=211)
TORTURE = uuid.UUID(int=212)
TRIAL = uuid.UUID(int=213)
INFO = uuid.UUID(int=221)
REF = uuid.UUID("5b1c8e0e-7d7a-4b8e-9a43-2f0a6c1d9e11")  # assigned by a caseworker


def document(attachment: uuid.UUID | None = None) -> dict[str, Any]:
    evidence = [] if attachment is None else [
        {"attachment_id": str(attachment), "body_area": "back",
         "private": {"note": "Canary bruises photographed"}}]
    return {
        "persons": [
            {"id": str(VICTIM), "role": "victim", "private": {"name": "Canary Victim"}},
            {"id": str(BROTHER), "role": "relative", "private": {"name": "Canary Brother"}},
            {"id": str(OFFICER), "role": "perpetrator", "perpetrator_type": "omon",
             "perpetrator_ref": str(REF),
             "private": {"name": "Canary Officer Name", "description": "Canary tattoo"}},
            {"id": str(WITNESS), "role": "witness", "private": {"name": "Canary Cellmate"}},
        ],
        "acts": [
            {"id": str(ARREST), "victim_id": str(VICTIM), "act_type": "arrest",
             "witness_ids": [str(WITNESS)],
             "perpetrators": [{"person_id": str(OFFICER), "perpetrator_type": "omon",
                               "degree": "direct"},
                              {"perpetrator_type": "police", "degree": "ordered",
                               "private": {"names": ["Canary Unnamed"]}}]},
            {"id": str(TORTURE), "victim_id": str(VICTIM), "act_type": "torture",
             "preceding_act_id": str(ARREST), "chain_link": "follows",
             "witness_ids": [str(WITNESS)],
             "perpetrators": [{"person_id": str(OFFICER), "degree": "direct"}],
             "torture": {
                 "methods": ["beating", "forced_standing"],
                 "method_details": [
                     {"method": "beating", "duration": "hours", "frequency": "daily"},
                     {"method": "forced_standing", "duration": "days"}],
                 "body_areas": ["back", "legs"], "positions": ["face_to_wall"],
                 "objects": ["baton"], "psych_sequelae": ["nightmares", "sleep_disturbance"],
                 "medical_examination": True, "examiner_qualification": "forensic_physician",
                 "ip_consistency": "highly_consistent", "evidence": evidence,
                 "private": {"examination_date": "2021-03", "clinician": "Canary Doctor"}}},
            {"id": str(TRIAL), "victim_id": str(VICTIM), "act_type": "detention",
             "preceding_act_id": str(TORTURE), "chain_link": "consequence_of"},
        ],
        "relationships": [
            {"person_id": str(BROTHER), "relationship_type": "sibling",
             "related_person_id": str(VICTIM)},
        ],
        "information": [
            {"id": str(INFO), "source_person_id": str(BROTHER), "act_id": str(ARREST),
             "source_connection": "relative", "reliability": "high",
             "material_type": "testimony",
             "private": {"description": "Canary account by phone", "material_date": "2021-02",
                         "language": "be"}},
        ],
    }


def _patch(session: Session, staff: Staff, settings: Settings, case_id: uuid.UUID,
           doc: dict[str, Any]) -> Case:
    version = session.get(Case, case_id).version  # type: ignore[union-attr]
    out = service.edit_metadata(session, staff.p("cw"), case_id,
                                MetadataPatch.model_validate(doc), version, settings)
    session.commit()
    return out


def _case(session: Session, settings: Settings, staff: Staff) -> tuple[uuid.UUID, uuid.UUID]:
    made = make_case(session, settings, wrap_to=[staff.cw],
                     files=[("bruise.jpg", "image/jpeg", b"\xff\xd8canary-pixels")])
    return made.id, made.attachments[0]


def test_round_trip_through_patch_and_detail(session: Session, settings: Settings,
                                             staff: Staff) -> None:
    case_id, attachment = _case(session, settings, staff)
    _patch(session, staff, settings, case_id, document(attachment))
    meta = service.detail(session, staff.p("cw"), case_id).metadata

    officer = next(p for p in meta.persons if p.id == OFFICER)
    assert (officer.perpetrator_type, officer.perpetrator_ref) == ("omon", REF)
    assert officer.private.name == "Canary Officer Name"
    acts = {a.id: a for a in meta.acts}
    arrest, torture, trial = acts[ARREST], acts[TORTURE], acts[TRIAL]
    assert {i.person_id for i in arrest.perpetrators} == {OFFICER, None}
    assert arrest.witness_ids == [WITNESS] and torture.witness_ids == [WITNESS]
    assert (torture.preceding_act_id, torture.chain_link) == (ARREST, "follows")
    assert (trial.preceding_act_id, trial.chain_link) == (TORTURE, "consequence_of")
    assert arrest.preceding_act_id is None

    tor = torture.torture
    assert tor is not None
    assert [(d.method, d.duration, d.frequency) for d in tor.method_details] == [
        ("beating", "hours", "daily"), ("forced_standing", "days", None)]
    assert tor.body_areas == ["back", "legs"] and tor.positions == ["face_to_wall"]
    assert tor.objects == ["baton"] and tor.psych_sequelae == ["nightmares",
                                                               "sleep_disturbance"]
    assert tor.examiner_qualification == "forensic_physician"
    assert tor.private.examination_date == "2021-03"
    assert [(e.attachment_id, e.body_area, e.private.note) for e in tor.evidence] == [
        (attachment, "back", "Canary bruises photographed")]

    assert [(r.person_id, r.relationship_type, r.related_person_id)
            for r in meta.relationships] == [(BROTHER, "sibling", VICTIM)]
    [info] = meta.information
    assert (info.id, info.source_person_id, info.act_id) == (INFO, BROTHER, ARREST)
    assert (info.source_connection, info.reliability, info.material_type) == (
        "relative", "high", "testimony")
    assert info.private.description == "Canary account by phone"

    # Writing the document back unchanged changes nothing (a client edits what it read).
    again = meta.model_dump(mode="json", include={"persons", "acts", "relationships",
                                                  "information"})
    _patch(session, staff, settings, case_id, again)
    assert service.detail(session, staff.p("cw"), case_id).metadata.model_dump(
        exclude={"unconfirmed"}) == meta.model_dump(exclude={"unconfirmed"})


def test_coded_in_plaintext_identifying_only_sealed(session: Session, settings: Settings,
                                                    staff: Staff) -> None:
    case_id, attachment = _case(session, settings, staff)
    _patch(session, staff, settings, case_id, document(attachment))
    codes = {(c.vocab, c.code) for c in session.exec(
        select(CaseCode).where(CaseCode.case_id == case_id))}
    assert {("body_area", "back"), ("ip_position", "face_to_wall"), ("ip_object", "baton"),
            ("psych_sequela", "nightmares")} <= codes
    methods = session.exec(select(CaseTortureMethod).where(
        CaseTortureMethod.case_id == case_id)).all()
    assert {(m.method, m.duration) for m in methods} == {("beating", "hours"),
                                                         ("forced_standing", "days")}
    info = session.get(CaseInformation, INFO)
    assert info is not None and (info.reliability, info.material_type) == ("high", "testimony")
    dump = bytearray()
    for table in ("case_person", "case_act", "case_torture", "case_involvement",
                  "case_information", "case_relationship", "case_witness",
                  "case_torture_method", "case_evidence", "case_code"):
        for row in session.execute(text(f"SELECT * FROM {table}")):  # noqa: S608 (fixed)
            for value in row:
                dump += value if isinstance(value, bytes) else str(value).encode()
    for canary in (b"Canary", "Canary".encode("utf-16-le"), b"2021-03"):
        assert canary not in dump


def test_perpetrator_followed_across_cases_by_reference_within_access(
        session: Session, settings: Settings, staff: Staff) -> None:
    first, _ = _case(session, settings, staff)
    second, _ = _case(session, settings, staff)
    hidden = make_case(session, settings, wrap_to=[staff.cw2]).id
    _patch(session, staff, settings, first, document())
    # The same officer in another case: the caseworker reuses the reference, nothing else.
    def other() -> dict[str, Any]:
        return {"persons": [{"role": "perpetrator", "perpetrator_type": "omon",
                             "perpetrator_ref": str(REF)}]}
    _patch(session, staff, settings, second, other())
    version = session.get(Case, hidden).version  # type: ignore[union-attr]
    service.edit_metadata(session, staff.p("cw2"), hidden,
                          MetadataPatch.model_validate(other()), version, settings)
    session.commit()

    everywhere = store.perpetrator_cases(session, REF, true())
    assert set(everywhere) == {first, second, hidden}
    assert service.perpetrator_cases(session, staff.p("cw"), REF) == sorted([first, second])
    assert service.perpetrator_cases(session, staff.p("cw"), uuid.uuid4()) == []
    # The reference is random, not derived from the identity: the stored row holds
    # only the opaque id, and a person without it is not matched.
    row = session.get(CasePerson, OFFICER)
    assert row is not None and row.perpetrator_ref == REF


def _refused(session: Session, staff: Staff, settings: Settings, case_id: uuid.UUID,
             doc: dict[str, Any], error: type[Exception]) -> Exception:
    version = session.get(Case, case_id).version  # type: ignore[union-attr]
    with pytest.raises(error) as exc:
        service.edit_metadata(session, staff.p("cw"), case_id, MetadataPatch.model_validate(doc),
                              version, settings)
    session.rollback()
    return exc.value


def test_links_must_stay_inside_the_case(session: Session, settings: Settings,
                                         staff: Staff) -> None:
    case_id, _ = _case(session, settings, staff)
    foreign_attachment = make_case(
        session, settings, wrap_to=[staff.cw],
        files=[("x.jpg", "image/jpeg", b"\xff\xd8other")]).attachments[0]
    doc = document(foreign_attachment)
    assert isinstance(_refused(session, staff, settings, case_id, doc, InvalidInput),
                      InvalidInput)

    def variant(change: Any) -> dict[str, Any]:
        d = document()
        change(d)
        return d

    cases = [
        # a chain pointing outside the list, and a loop
        lambda d: d["acts"][1].update(preceding_act_id=str(uuid.uuid4())),
        lambda d: d["acts"][0].update(preceding_act_id=str(TRIAL)),
        lambda d: d["acts"][0].update(chain_link="follows"),
        # a witness or a perpetrator who is not (that kind of) person of the case
        lambda d: d["acts"][0].update(witness_ids=[str(uuid.uuid4())]),
        lambda d: d["acts"][0]["perpetrators"][0].update(person_id=str(BROTHER)),
        # relationship to oneself, to a stranger; information on an unknown act
        lambda d: d["relationships"][0].update(related_person_id=str(BROTHER)),
        lambda d: d["relationships"][0].update(related_person_id=str(uuid.uuid4())),
        lambda d: d["information"][0].update(act_id=str(uuid.uuid4())),
        # a method detail for a method the act does not have
        lambda d: d["acts"][1]["torture"]["method_details"].append({"method": "electric_shock"}),
        # perpetrator fields on someone who is not a perpetrator
        lambda d: d["persons"][1].update(perpetrator_ref=str(REF)),
    ]
    for n, change in enumerate(cases):
        err = _refused(session, staff, settings, case_id, variant(change), InvalidInput)
        assert isinstance(err, InvalidInput), n
    assert session.exec(select(CaseWitness)).first() is None


def test_persons_and_acts_still_named_cannot_be_dropped(session: Session, settings: Settings,
                                                        staff: Staff) -> None:
    case_id, _ = _case(session, settings, staff)
    doc = document()
    _patch(session, staff, settings, case_id, doc)
    # The witness, the brother (source and relative) and the officer are still named.
    for pid in (WITNESS, BROTHER, OFFICER):
        persons = [p for p in doc["persons"] if p["id"] != str(pid)]
        _refused(session, staff, settings, case_id, {"persons": persons}, Conflict)
    # An act an information item names cannot go unless the information goes with it.
    acts = [a for a in doc["acts"] if a["id"] != str(ARREST)]
    for a in acts:
        a.pop("preceding_act_id", None)
        a.pop("chain_link", None)
    _refused(session, staff, settings, case_id, {"acts": acts}, Conflict)
    _patch(session, staff, settings, case_id, {"acts": acts, "information": []})
    assert session.exec(select(CaseInformation)).first() is None
    # Relationships and information sent with the persons free them.
    _patch(session, staff, settings, case_id, {
        "relationships": [], "acts": [],
        "persons": [p for p in doc["persons"] if p["id"] == str(VICTIM)]})
    assert session.exec(select(CaseRelationship)).first() is None
    assert session.exec(select(CaseInvolvement)).first() is None
    assert session.exec(select(CaseEvidence)).first() is None


def test_unknown_codes_are_refused() -> None:
    for doc in (
        {"relationships": [{"person_id": str(VICTIM), "relationship_type": "rival",
                            "related_person_id": str(BROTHER)}]},
        {"information": [{"reliability": "certain"}]},
        {"acts": [{"victim_id": str(VICTIM), "act_type": "torture",
                   "torture": {"body_areas": ["tail"]}}]},
        {"acts": [{"victim_id": str(VICTIM), "act_type": "torture",
                   "torture": {"method_details": [{"method": "beating",
                                                   "frequency": "sometimes"}]}}]},
        {"acts": [{"victim_id": str(VICTIM), "act_type": "torture",
                   "torture": {"private": {"examination_date": "March 2021"}}}]},
    ):
        with pytest.raises(ValidationError):
            MetadataPatch.model_validate(doc)


def test_over_http_patch_detail_and_follow(app_client: TestClient, session: Session,
                                           settings: Settings, staff: Staff) -> None:
    case_id, attachment = _case(session, settings, staff)
    session.rollback()  # SQLite: end the test's transaction so the app can write
    cw = login_headers(app_client, staff.cw)
    url = f"/api/v1/cases/{case_id}"
    ok = app_client.patch(url, json=document(attachment), headers={**cw, "If-Match": '"1"'})
    assert ok.status_code == 200, ok.text
    meta = app_client.get(url, headers=cw).json()["metadata"]
    assert meta["relationships"][0]["relationship_type"] == "sibling"
    torture = next(a for a in meta["acts"] if a["id"] == str(TORTURE))
    assert torture["torture"]["evidence"][0]["attachment_id"] == str(attachment)
    followed = app_client.get(f"/api/v1/cases/perpetrators/{REF}", headers=cw)
    assert followed.status_code == 200 and followed.json() == [str(case_id)]
    # Another caseworker without this case's key sees nothing under the same reference.
    other = login_headers(app_client, staff.cw2)
    assert app_client.get(f"/api/v1/cases/perpetrators/{REF}", headers=other).json() == []
    assert app_client.get(f"/api/v1/cases/perpetrators/{REF}").status_code == 401
    bad = app_client.patch(url, json={"relationships": [
        {"person_id": str(VICTIM), "relationship_type": "sibling",
         "related_person_id": str(VICTIM)}]}, headers={**cw, "If-Match": '"2"'})
    assert bad.status_code == 422 and "Canary" not in bad.text


def test_migration_carries_existing_rows_and_goes_down(database: DbUnderTest,
                                                       tmp_path: Path) -> None:
    url = _fresh_db(database, tmp_path)
    before = ScriptDirectory.from_config(migrations.alembic_config(url)).get_revision(
        "0016").down_revision
    assert isinstance(before, str)
    migrations.upgrade(database.settings, before, url=url)
    _seed_every_table(url)
    migrations.upgrade(database.settings, "0016", url=url)
    eng = create_engine(url)
    with eng.connect() as conn:
        # Rows written before keep their meaning: no chain, involvements without persons.
        assert conn.execute(text("SELECT preceding_act_id, chain_link FROM case_act")).all() \
            == [(None, None)]
        assert conn.execute(text("SELECT person_id, perpetrator_type FROM case_involvement")
                            ).all() == [(None, "omon")]
        assert conn.execute(text("SELECT role, perpetrator_type, perpetrator_ref "
                                 "FROM case_person ORDER BY role")).all() == [
            ("perpetrator", None, None), ("victim", None, None)]
        assert conn.execute(text("SELECT examiner_qualification, ip_consistency "
                                 "FROM case_torture")).all() == [(None, "consistent")]
        for table in ("case_information", "case_relationship", "case_witness",
                      "case_torture_method", "case_evidence"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0  # noqa: S608
    migrations.downgrade(database.settings, before, url=url)
    assert not {"preceding_act_id", "chain_link"} & {
        c["name"] for c in inspect(eng).get_columns("case_act")}
    assert not inspect(eng).has_table("case_information")
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM case_involvement")).scalar() == 1
    eng.dispose()
