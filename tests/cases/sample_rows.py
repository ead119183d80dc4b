"""One row per table of the cases feature, for the migration up/down tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Table

from tests.foundation.sample_rows import IDS, NOW, table

PERSON = uuid.UUID(int=0xC1)
ACT = uuid.UUID(int=0xC2)
PERPETRATOR = uuid.UUID(int=0xC3)
PERPETRATOR_REF = uuid.UUID(int=0xC4)


def rows() -> Iterator[tuple[Table, dict[str, Any]]]:
    case = IDS["case"]
    yield table("case_person"), {
        "id": PERSON, "case_id": case, "role": "victim", "sex": "female",
        "age_band": "age_20_29", "citizenship": "BY", "residence_country": "LT",
        "political_prisoner_month": "2021-03", "political_prisoner_recognised_by": "viasna",
        "sealed": b"\x01p",
    }
    yield table("case_person"), {
        "id": PERPETRATOR, "case_id": case, "role": "perpetrator", "perpetrator_type": "omon",
        "perpetrator_ref": PERPETRATOR_REF, "sealed": b"\x01q",
    }
    yield table("case_act"), {
        "id": ACT, "case_id": case, "victim_id": PERSON, "act_type": "detention",
        "start_month": "2025-12", "region": "BY-HM", "facility": "tsip_akrestsina_minsk",
        "sealed": b"\x01a",
    }
    yield table("case_detention"), {
        "act_id": ACT, "case_id": case, "legal_regime": "pretrial_custody",
        "facility_type": "sizo_kgb", "ongoing": True, "admin_arrest_days": 15,
        "fine_band": "bu_11_30", "special_proceedings": False, "verdict_month": "2026-01",
        "sealed": b"\x01d",
    }
    yield table("case_designation"), {
        "id": uuid.uuid4(), "case_id": case, "person_id": PERSON,
        "list_type": "extremist_persons", "month": "2023-05",
        "facility_type": "sizo_kgb", "ongoing": True, "trial_closed": True,
        "trial_video_link": False, "sealed": b"\x01d",
    }
    yield table("case_torture"), {
        "act_id": ACT, "case_id": case, "ip_consistency": "consistent", "sealed": b"\x01t",
    }
    yield table("case_disappearance"), {
        "act_id": ACT, "case_id": case, "last_seen_month": "2025-12", "wgeid_urgent": True,
        "sealed": b"\x01g",
    }
    yield table("case_involvement"), {
        "id": uuid.uuid4(), "case_id": case, "act_id": ACT, "perpetrator_type": "omon",
        "degree": "direct", "person_id": PERPETRATOR, "sealed": b"\x01i",
    }
    yield table("case_relationship"), {
        "id": uuid.uuid4(), "case_id": case, "person_id": PERPETRATOR,
        "related_person_id": PERSON, "relationship_type": "other",
    }
    yield table("case_information"), {
        "id": uuid.uuid4(), "case_id": case, "source_person_id": PERSON, "act_id": ACT,
        "source_connection": "victim", "reliability": "high", "material_type": "testimony",
        "sealed": b"\x01f",
    }
    yield table("case_witness"), {"act_id": ACT, "person_id": PERPETRATOR, "case_id": case}
    yield table("case_torture_method"), {
        "act_id": ACT, "method": "beating", "case_id": case, "duration": "hours",
        "frequency": "daily",
    }
    yield table("case_evidence"), {
        "id": uuid.uuid4(), "case_id": case, "act_id": ACT, "attachment_id": IDS["blob"],
        "body_area": "back", "sealed": b"\x01e",
    }
    yield table("case_intervention"), {
        "id": uuid.uuid4(), "case_id": case, "intervention_type": "legal_aid",
        "month": "2026-01", "status": "planned", "sealed": b"\x01n",
    }
    yield table("case_code"), {
        "id": uuid.uuid4(), "case_id": case, "subject_id": ACT, "vocab": "torture_method",
        "code": "beating",
    }
    yield table("case_consent"), {
        "id": uuid.uuid4(), "case_id": case, "person_id": PERSON, "scope": "share_un_wgeid",
        "version": 1, "recorded_by_id": IDS["user"], "recorded_at": NOW,
    }
    yield table("case_event"), {
        "id": uuid.uuid4(), "case_id": case, "kind": "transition", "from_state": "new",
        "to_state": "triage", "actor_id": IDS["user"], "detail": "", "created_at": NOW,
    }
    yield table("case_link"), {
        "id": uuid.uuid4(), "kind": "duplicate_of", "source_case_id": case,
        "target_case_id": case, "submission_ids": "", "actor_id": IDS["user"],
        "created_at": NOW,
    }
    yield table("organisation_profile"), {
        "id": 1, "name": "Dokaz", "contact": "referrals@dokaz.example",
        "source_confidential": True, "updated_at": NOW,
    }
