"""One realistic case for the referral drafts: two brothers from Minsk.

Andrei, a 2020 protester: detained on 10 August 2020 near Pushkinskaya, 15 days of
administrative arrest at TsIP Akrestsina where he was beaten and made to sign a statement;
arrested again by GUBOPiK at home in March 2021, sentenced under CC art. 342 after a closed
trial, now held in Mogilev prison No. 4. His brother Pavel, who returned from Lithuania,
has been missing since 20 October 2026 at the Kamenny Log border checkpoint. Their mother
is the source; she reported Pavel's disappearance on his behalf at intake.

Names and places are invented for the test; the facts follow the pattern of real cases.
"""

from __future__ import annotations

import copy
import uuid
from datetime import date
from typing import Any

from sqlmodel import Session

from api.cases import service
from api.cases.metadata import consent
from api.cases.metadata.document import MetadataPatch
from api.cases.metadata.schemas import ConsentIn
from api.cases.models import Case
from api.cases.referrals import profile
from api.core.settings import Settings
from tests.cases.factory import Staff, make_case

ANDREI = uuid.UUID("00000000-0000-4000-8000-00000000a001")
PAVEL = uuid.UUID("00000000-0000-4000-8000-00000000a002")
MOTHER = uuid.UUID("00000000-0000-4000-8000-00000000a003")
FIRST_ARREST = uuid.UUID("00000000-0000-4000-8000-00000000b001")
AKRESTSINA_TORTURE = uuid.UUID("00000000-0000-4000-8000-00000000b002")
SECOND_ARREST = uuid.UUID("00000000-0000-4000-8000-00000000b003")
BORDER = uuid.UUID("00000000-0000-4000-8000-00000000b004")
RECEIVED = date(2026, 11, 10)
DRAFTED = date(2026, 12, 1)  # 42 days after Pavel was last seen: urgent action
ORGANISATION = profile.ProfileIn(name="Dokaz Human Rights Documentation",
                                 contact="Vilnius, Lithuania; referrals@dokaz.example",
                                 source_confidential=True)


def document() -> dict[str, Any]:
    return {
        "region": "BY-HM",
        "summary": {"title": "Two brothers: a political prisoner and a disappearance"},
        "persons": [
            {"id": str(ANDREI), "role": "victim", "sex": "male", "age_band": "age_30_39",
             "citizenship": "BY", "characteristics": ["demonstrator"],
             "private": {"name": "Andrei Kavalenka", "birth_date": "1993-04-14",
                         "id_number": "Passport MP1234567", "occupation": "Software engineer",
                         "address": "Minsk, Partyzanski district"}},
            {"id": str(PAVEL), "role": "victim", "sex": "male", "age_band": "age_20_29",
             "citizenship": "BY",
             "private": {"name": "Pavel Kavalenka", "birth_date": "1998-07-02",
                         "occupation": "Driver", "address": "Vilnius (since 2021)"}},
            {"id": str(MOTHER), "role": "source",
             "private": {"name": "Halina Kavalenka", "relationship": "mother of both",
                         "contact": "Signal +370 600 00000"}},
        ],
        "acts": [
            {"id": str(FIRST_ARREST), "victim_id": str(ANDREI), "act_type": "detention",
             "start_month": "2020-08", "end_month": "2020-08", "date_precision": "exact",
             "region": "BY-HM",
             "private": {"location": "Near Pushkinskaya metro station, Minsk",
                         "start_date": "2020-08-10", "end_date": "2020-08-24",
                         "stated_reason": "Taking part in an unauthorised mass event"},
             "detention": {
                 "legal_regime": "administrative_arrest", "facility_type": "tsip",
                 "whereabouts": "disclosed_no_family_contact",
                 "counsel_access": "appointed_only", "court_type": "district_court",
                 "warrant_shown": False, "ongoing": False, "legal_basis": ["cao_23_34"],
                 "wgad_categories": ["category_ii", "category_iii"],
                 "trial_closed": False, "trial_video_link": True, "special_proceedings": False,
                 "private": {
                     "facility_name": "TsIP Akrestsina, Minsk",
                     "custodians": ["Offender isolation centre of the Minsk city police"],
                     "circumstances": "Detained by riot police while walking home from a "
                                      "peaceful protest after the presidential election.",
                     "trial": {"court": "Frunzenski district court of Minsk",
                               "judge": "Judge A. Ivanova", "case_number": "5-1234/2020",
                               "opened_on": "2020-08-11", "judgment_on": "2020-08-11",
                               "counsel": "None of his choosing (not allowed)",
                               "charges": "CAO art. 23.34, part 1",
                               "sentence": "15 days of administrative arrest",
                               "appeals": [{"court": "Minsk City Court", "date": "2020-08-20",
                                            "outcome": "Rejected"}]},
                     "remedies": [{"remedy": "Complaint to the Prosecutor's Office about "
                                             "beatings", "date": "2020-09-01",
                                   "outcome": "Refused to open a criminal case"}],
                     "category_facts": {
                         "category_ii": "Punished for peaceful assembly and expression.",
                         "category_iii": "Tried by video link from the detention centre "
                                         "within minutes, without a lawyer of his choice."},
                 }},
             "perpetrators": [{"perpetrator_type": "omon", "degree": "direct",
                               "private": {"unit": "OMON of the Minsk city police"}}]},
            {"id": str(AKRESTSINA_TORTURE), "victim_id": str(ANDREI), "act_type": "torture",
             "start_month": "2020-08", "region": "BY-HM",
             "private": {"location": "TsIP Akrestsina, Minsk", "start_date": "2020-08-10"},
             "torture": {"methods": ["beating", "forced_postures", "forced_standing"],
                         "statement_signed": "forced_to_sign",
                         "private": {"description": "Beaten with batons in the yard and "
                                                    "made to stand against a wall all night.",
                                     "injuries": "Bruises on back and legs, broken finger"}},
             "perpetrators": [{"perpetrator_type": "prison_officials", "degree": "direct"}]},
            {"id": str(SECOND_ARREST), "victim_id": str(ANDREI), "act_type": "arrest",
             "start_month": "2021-03", "date_precision": "exact", "region": "BY-HM",
             "private": {"location": "His home, Partyzanski district, Minsk",
                         "start_date": "2021-03-25"},
             "detention": {
                 "legal_regime": "imprisonment", "facility_type": "prison",
                 "whereabouts": "disclosed_no_family_contact",
                 "counsel_access": "lawyer_pressured", "court_type": "district_court",
                 "warrant_shown": False, "ongoing": True, "legal_basis": ["cc_342"],
                 "wgad_categories": ["category_ii", "category_iii"],
                 "trial_closed": True, "trial_video_link": False, "special_proceedings": False,
                 "private": {
                     "facility_name": "SIZO-1 Valadarskaha, Minsk",
                     "transfers": ["Mogilev prison No. 4 (since 2022-01)"],
                     "custodians": ["Department for the Execution of Punishments of the MVD"],
                     "current_place": "Mogilev prison No. 4",
                     "ordering_authority": "Investigative Committee, Minsk city department",
                     "reasons_given": "Identified on video of the August 2020 protests",
                     "circumstances": "Seven officers searched the flat at 6 a.m., seized "
                                      "phones and took him away without showing a warrant.",
                     "trial": {"court": "Leninski district court of Minsk",
                               "judge": "Judge S. Petrov", "case_number": "1-567/2021",
                               "opened_on": "2021-08-02", "judgment_on": "2021-09-15",
                               "counsel": "Advocate M. Sidarenka (later disbarred)",
                               "charges": "CC art. 342, part 1",
                               "sentence": "5 years of imprisonment",
                               "appeals": [{"court": "Minsk City Court", "date": "2021-11-30",
                                            "outcome": "Sentence upheld"}]},
                     "remedies": [
                         {"remedy": "Supervisory complaint to the Supreme Court",
                          "date": "2022-02-10", "outcome": "Refused"},
                         {"remedy": "Complaint to the Prosecutor General", "date": "2022-05-03",
                          "outcome": "No reply"}],
                     "category_facts": {
                         "category_ii": "Convicted for taking part in peaceful protests.",
                         "category_iii": "Closed trial; his lawyer was disbarred."},
                 }},
             "perpetrators": [{"perpetrator_type": "gubopik", "degree": "direct",
                               "private": {"names": ["Officer K."]}}]},
            {"id": str(BORDER), "victim_id": str(PAVEL), "act_type": "disappearance",
             "start_month": "2026-10", "date_precision": "exact", "region": "BY-HR",
             "private": {"location": "Kamenny Log border checkpoint",
                         "start_date": "2026-10-20"},
             "disappearance": {
                 "last_seen_month": "2026-10", "region": "BY-HR",
                 "forces_responsible": "intelligence_service",
                 "state_acknowledgement": "capture_denied", "current_status": "still_missing",
                 "private": {
                     "last_seen_date": "2026-10-20",
                     "last_seen_place": "Kamenny Log border checkpoint (Lithuania–Belarus)",
                     "circumstances": "Phoned his mother from the queue at passport control "
                                      "saying he had been taken aside by KGB officers; his "
                                      "phone has been off since.",
                     "steps_taken": [
                         {"type": "complaint", "date": "2026-10-23",
                          "addressed_to": "State Border Committee",
                          "outcome": "Replied that he never crossed the border"},
                         {"type": "missing person report", "date": "2026-10-27",
                          "addressed_to": "Investigative Committee, Hrodna region",
                          "outcome": "No reply"}],
                 }},
             "perpetrators": [{"perpetrator_type": "intelligence_service",
                               "degree": "unknown"}]},
        ],
    }


def incomplete() -> dict[str, Any]:
    """The same case with gaps a caseworker must fill before filing."""
    doc = copy.deepcopy(document())
    andrei, pavel = doc["persons"][0], doc["persons"][1]
    del andrei["private"]["birth_date"]
    del pavel["sex"]
    doc["persons"] = doc["persons"][:2]  # no source recorded
    second = doc["acts"][2]
    del second["private"]["location"]
    second["perpetrators"] = []
    second["detention"]["legal_basis"] = []
    del second["detention"]["private"]["trial"]["judge"]
    del second["detention"]["private"]["current_place"]
    second["detention"]["private"]["remedies"] = []
    second["detention"]["private"]["category_facts"] = {"category_ii": "Peaceful protest."}
    border = doc["acts"][3]["disappearance"]["private"]
    del border["steps_taken"][1]["outcome"]
    return doc


def make(session: Session, settings: Settings, staff: Staff, doc: dict[str, Any] | None = None,
         *, with_profile: bool = True) -> Case:
    """The case with its metadata, the consents both referrals need, and (unless told not
    to) the organisation profile."""
    made = make_case(session, settings, wrap_to=[staff.cw], received_on=RECEIVED)
    case = session.get(Case, made.id)
    assert case is not None
    service.edit_metadata(session, staff.p("cw"), case.id,
                          MetadataPatch.model_validate(doc or document()), 1, settings)
    row, key = service.open_case(session, staff.p("cw"), case.id)
    for scope in ("share_un_wgad", "un_name_to_government"):
        consent.give(session, staff.p("cw"), row, key, ConsentIn(person_id=ANDREI, scope=scope),
                     settings)
    # The mother consented for Pavel in her report (on his behalf).
    for scope in ("share_un_wgeid", "un_name_to_government"):
        consent.record_intake(session, row, PAVEL, scope, made.submissions[0], on_behalf=True)
    if with_profile:
        profile.put(session, staff.admin.user.id, ORGANISATION)
    session.commit()
    return case
