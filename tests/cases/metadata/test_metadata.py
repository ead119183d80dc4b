"""Structured metadata: sealed vs coarse columns, optimistic concurrency, urgency, consent."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlmodel import Session, select

from api.cases import service
from api.cases.metadata import consent
from api.cases.metadata.document import MetadataPatch
from api.cases.metadata.schemas import ConsentIn
from api.cases.models import Case, CaseCode, CaseConsent, CasePerson
from api.core.errors import Conflict, PreconditionFailed, PreconditionRequired
from api.core.settings import Settings
from tests.cases.factory import Staff, make_case

VICTIM = uuid.UUID(int=101)
RELATIVE = uuid.UUID(int=102)
SECRET_NAME = "Canary Ivanovna Secretname"


def document(received: date, *, last_seen_days: int = 30, ongoing: bool = True) -> dict[str, Any]:
    seen = (received - timedelta(days=last_seen_days)).isoformat()
    return {
        "priority": "high",
        "region": "BY-HM",
        "period_start_month": seen[:7],
        "summary": {"title": "Canary title", "narrative": "Canary narrative of the events"},
        "persons": [
            {"id": str(VICTIM), "role": "victim", "sex": "female", "age_band": "age_30_39",
             "citizenship": "BY", "characteristics": ["demonstrator", "student"],
             "private": {"name": SECRET_NAME, "phone": "+375 29 000 00 00",
                         "birth_date": "1990-05-01"}},
            {"id": str(RELATIVE), "role": "relative", "private": {"name": "Canary Relative"}},
        ],
        "acts": [
            {"victim_id": str(VICTIM), "act_type": "detention", "start_month": seen[:7],
             "region": "BY-HM", "private": {"location": "Canary street 5", "start_date": seen},
             "detention": {"legal_regime": "pretrial_custody", "facility_type": "sizo_kgb",
                           "whereabouts": "disclosed_no_counsel", "ongoing": ongoing,
                           "legal_basis": ["cc_342"], "wgad_categories": ["category_ii"],
                           "private": {"judge": "Canary Judge", "case_number": "CANARY-42"}},
             "perpetrators": [{"perpetrator_type": "omon", "degree": "direct",
                               "private": {"names": ["Canary Officer"]}}]},
            {"victim_id": str(VICTIM), "act_type": "torture",
             "torture": {"methods": ["beating", "forced_standing"], "intents": ["punishment"],
                         "statement_signed": "forced_to_sign", "ip_consistency": "consistent",
                         "private": {"injuries": "Canary injuries"}}},
            {"victim_id": str(VICTIM), "act_type": "disappearance",
             "disappearance": {"last_seen_month": seen[:7], "region": "BY-HM",
                               "forces_responsible": "gubopik",
                               "current_status": "still_missing",
                               "private": {"last_seen_date": seen,
                                           "last_seen_place": "Canary square",
                                           "steps_taken": [{"type": "complaint",
                                                            "date": seen}]}}},
        ],
        "interventions": [{"intervention_type": "legal_aid", "month": seen[:7],
                           "status": "in_progress", "private": {"reference": "CANARY-REF"}}],
    }


def _patch(session: Session, staff: Staff, settings: Settings, case_id: uuid.UUID,
           doc: dict[str, Any], version: int) -> Case:
    out = service.edit_metadata(session, staff.p("cw"), case_id,
                                MetadataPatch.model_validate(doc), version, settings)
    session.commit()
    return out


def test_round_trip_sealed_and_coarse(session: Session, settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw])
    received = session.get(Case, made.id).received_on  # type: ignore[union-attr]
    case = _patch(session, staff, settings, made.id, document(received), 1)
    assert case.version == 2 and case.priority == "high" and case.priority_rank == 2
    assert case.urgency_reasons == "ongoing_detention,torture_risk,wgeid_urgent" and case.urgent

    detail = service.detail(session, staff.p("cw"), made.id)
    meta = detail.metadata
    victim = next(p for p in meta.persons if p.id == VICTIM)
    assert victim.private.name == SECRET_NAME and victim.characteristics == ["demonstrator",
                                                                             "student"]
    det = next(a for a in meta.acts if a.detention is not None).detention
    assert det is not None and det.private.judge == "Canary Judge"
    assert det.legal_basis == ["cc_342"]
    tor = next(a for a in meta.acts if a.torture is not None).torture
    assert tor is not None and tor.methods == ["beating", "forced_standing"]
    dis = next(a for a in meta.acts if a.disappearance is not None).disappearance
    assert dis is not None and dis.wgeid_urgent and dis.private.last_seen_place == "Canary square"
    assert meta.summary.title == "Canary title"
    assert meta.interventions[0].private.reference == "CANARY-REF"

    # Coarse coding is plain and groupable; nothing identifying is stored in plaintext.
    codes = {(c.vocab, c.code) for c in session.exec(select(CaseCode))}
    assert ("torture_method", "beating") in codes and ("legal_basis", "cc_342") in codes
    dump = _all_bytes(session)
    for canary in (b"Canary", "Canary".encode("utf-16-le"), b"CANARY-42", b"+375"):
        assert canary not in dump


def _all_bytes(session: Session) -> bytes:
    out = bytearray()
    for table in ("cases", "case_person", "case_act", "case_detention", "case_torture",
                  "case_disappearance", "case_involvement", "case_intervention", "case_code",
                  "case_event", "case_consent"):
        for row in session.execute(text(f"SELECT * FROM {table}")):  # noqa: S608 (fixed names)
            for value in row:
                out += value if isinstance(value, bytes) else str(value).encode()
    return bytes(out)


def test_optimistic_concurrency(session: Session, settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw, staff.cw2])
    with pytest.raises(PreconditionRequired):
        service.edit_metadata(session, staff.p("cw"), made.id, MetadataPatch(region="BY-BR"),
                              None, settings)
    session.rollback()
    _patch(session, staff, settings, made.id, {"region": "BY-BR"}, 1)
    # A colleague who read version 1 cannot overwrite the change they never saw.
    with pytest.raises(PreconditionFailed) as exc:
        service.edit_metadata(session, staff.p("cw2"), made.id, MetadataPatch(region="BY-VI"),
                              1, settings)
    assert exc.value.details["current_version"] == 2
    session.rollback()
    row = session.get(Case, made.id)
    assert row is not None and row.region == "BY-BR" and row.version == 2


def test_urgency_windows(session: Session, settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw])
    received = session.get(Case, made.id).received_on  # type: ignore[union-attr]
    case = _patch(session, staff, settings, made.id,
                  document(received, last_seen_days=120, ongoing=False), 1)
    assert case.urgency_reasons == "" and not case.urgent
    case = _patch(session, staff, settings, made.id,
                  document(received, last_seen_days=90, ongoing=False), 2)
    assert case.urgency_reasons == "wgeid_urgent"
    assert case.due_at is not None


def test_unknown_codes_are_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        MetadataPatch.model_validate({"acts": [{"victim_id": str(VICTIM),
                                                "act_type": "teleportation"}]})
    assert "act_type" in str(exc.value)
    with pytest.raises(ValidationError):
        MetadataPatch.model_validate({"persons": [{"role": "victim", "private": {"x": 1}}]})


def test_consent_versions_and_person_kept(session: Session, settings: Settings,
                                         staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw])
    received = session.get(Case, made.id).received_on  # type: ignore[union-attr]
    _patch(session, staff, settings, made.id, document(received), 1)
    case, key = service.open_case(session, staff.p("cw"), made.id)
    body = ConsentIn(person_id=VICTIM, scope="share_un_wgeid", note="Said yes by phone")
    first = consent.give(session, staff.p("cw"), case, key, body, settings)
    with pytest.raises(Conflict):
        consent.give(session, staff.p("cw"), case, key, body, settings)
    consent.revoke(session, staff.p("cw"), case, key, first.id, settings)
    assert not consent.has_consent(session, case.id, VICTIM, "share_un_wgeid")
    second = consent.give(session, staff.p("cw"), case, key, body, settings)
    session.commit()
    assert second.version == 2 and consent.has_consent(session, case.id, VICTIM,
                                                       "share_un_wgeid")
    rows = session.exec(select(CaseConsent).where(CaseConsent.person_id == VICTIM)).all()
    assert len(rows) == 2 and sum(r.revoked_at is not None for r in rows) == 1
    # The person a consent refers to cannot be dropped from the metadata.
    with pytest.raises(Conflict):
        _patch(session, staff, settings, made.id,
               {"acts": [], "persons": [{"id": str(RELATIVE), "role": "relative"}]},
               case.version)
    session.rollback()
    assert session.get(CasePerson, VICTIM) is not None
