"""Pre-filled referral drafts for the UN Working Groups (WGEID, WGAD), consent enforced.

A draft is built only when every victim it covers has active consent (``case_consent``)
for sharing with that mechanism (``share_un_wgeid`` / ``share_un_wgad``) and for being
named to the government (``un_name_to_government``): both Working Groups transmit the
person's identity to the government concerned. Otherwise the request is refused (409)
naming each missing person and scope. Nothing is stored: the draft is rendered from the
case on each request, as JSON or as a readable Markdown document in en, be, ru or uk,
and the export is audited.

Structure follows the Working Groups' submission forms (outline in case-metadata.md):

* WGEID: identity of the disappeared person; date and place of arrest, abduction or last
  sighting; forces believed responsible; state acknowledgement; steps taken by relatives;
  whether the urgent procedure applies (reported within 90 days); the source stays
  confidential.
* WGAD: identity; arrest (date, place, forces, warrant, reasons, legal basis); detention
  (regime, facility, ordering authority, transfers, court, counsel); why the deprivation of
  liberty is arbitrary (categories I-V); domestic remedies.

``missing`` lists required fields still empty, so a caseworker sees what to complete
before sending.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, Literal

from sqlmodel import Session

from api.audit import actions
from api.audit import service as audit
from api.auth.principals import Principal
from api.cases.metadata import consent, store
from api.cases.metadata.document import Act, Metadata, Person
from api.cases.service import open_case
from api.core.errors import Conflict, InvalidInput
from api.vocab.registry import Language, label

Mechanism = Literal["wgeid", "wgad"]
SHARE_SCOPE = {"wgeid": "share_un_wgeid", "wgad": "share_un_wgad"}
NAME_SCOPE = "un_name_to_government"
NAMES = {
    "wgeid": "UN Working Group on Enforced or Involuntary Disappearances",
    "wgad": "UN Working Group on Arbitrary Detention",
}
DISAPPEARANCE_ACTS = frozenset({"disappearance", "abduction"})
DETENTION_ACTS = frozenset({"arrest", "detention", "house_arrest", "mass_roundup"})


class ConsentMissing(Conflict):
    code = "consent_missing"
    default_message = "The consent needed for this referral has not been given."


def _lbl(vocab: str, code: str | None, lang: Language) -> str | None:
    return None if code is None else label(vocab, code, lang)


def _relevant(meta: Metadata, mechanism: Mechanism) -> dict[uuid.UUID, list[Act]]:
    out: dict[uuid.UUID, list[Act]] = {}
    for act in meta.acts:
        if mechanism == "wgeid":
            hit = act.disappearance is not None or act.act_type in DISAPPEARANCE_ACTS
        else:
            hit = act.detention is not None or act.act_type in DETENTION_ACTS
        if hit:
            out.setdefault(act.victim_id, []).append(act)
    return out


def draft(
    session: Session, principal: Principal, case_id: uuid.UUID, mechanism: Mechanism,
    lang: Language, person_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    case, key = open_case(session, principal, case_id)
    meta = store.load_metadata(session, case, key)
    victims = _relevant(meta, mechanism)
    if person_id is not None:
        victims = {pid: acts for pid, acts in victims.items() if pid == person_id}
    if not victims:
        what = "an enforced disappearance" if mechanism == "wgeid" else "a detention"
        raise InvalidInput(f"This case records no {what} to refer"
                           + (" for that person." if person_id else "."))
    missing_consent = [
        {"person_id": str(pid), "scope": scope}
        for pid in victims
        for scope in (SHARE_SCOPE[mechanism], NAME_SCOPE)
        if not consent.has_consent(session, case.id, pid, scope)
    ]
    if missing_consent:
        scopes = sorted({m["scope"] for m in missing_consent})
        raise ConsentMissing(
            f"A referral to the {NAMES[mechanism]} needs each victim's active consent for: "
            + ", ".join(f"'{s}' ({label('consent_scope', s, 'en')})" for s in scopes)
            + ". Record the consent first (POST .../consents).",
            details={"missing": missing_consent},
        )
    persons = {p.id: p for p in meta.persons}
    build = _wgeid_victim if mechanism == "wgeid" else _wgad_victim
    entries = [build(persons[pid], acts, lang) for pid, acts in victims.items()]
    if mechanism == "wgad":
        tortured = {a.victim_id for a in meta.acts if a.torture is not None}
        for entry, pid in zip(entries, victims, strict=True):
            entry["ill_treatment_reported"] = pid in tortured
    doc: dict[str, Any] = {
        "mechanism": mechanism.upper(),
        "addressee": NAMES[mechanism],
        "language": lang,
        "case_reference": case.reference,
        "victims": entries,
        "source": {
            "organisation_confidential": True,
            "note": "The identity of the source is kept by the submitting organisation and "
                    "disclosed to the Working Group only if it asks and the source agrees.",
        },
        "missing": sorted({m for e in entries for m in e.pop("_missing")}),
    }
    if mechanism == "wgeid":
        doc["procedure"] = ("urgent_action" if any(e["disappearance"]["wgeid_urgent"]
                                                   for e in entries) else "standard")
    audit.record(session, action=actions.EXPORT, actor_id=principal.user_id, case_id=case.id,
                 target=str(case.id), details={"export": f"referral_{mechanism}",
                                               "victims": len(entries)})
    return doc


def _missing(required: Iterable[tuple[str, object]]) -> list[str]:
    """The names of the required fields that are still empty, in the order given."""
    return [name for name, value in required if not value]


def _identity(p: Person, lang: Language) -> dict[str, Any]:
    return {
        "name": p.private.name, "other_names": p.private.other_names,
        "sex": _lbl("sex", p.sex, lang), "birth_date": p.private.birth_date,
        "age_band": _lbl("age_band", p.age_band, lang), "citizenship": p.citizenship,
        "id_number": p.private.id_number, "occupation": p.private.occupation,
        "address": p.private.address,
    }


def _perpetrators(acts: list[Act], lang: Language) -> list[dict[str, Any]]:
    return [{"type": _lbl("perpetrator_type", inv.perpetrator_type, lang),
             "names": inv.private.names, "unit": inv.private.unit,
             "description": inv.private.description}
            for act in acts for inv in act.perpetrators]


def _wgeid_victim(p: Person, acts: list[Act], lang: Language) -> dict[str, Any]:
    act = next((a for a in acts if a.disappearance is not None), acts[0])
    d = act.disappearance
    date = (d.private.last_seen_date if d else None) or act.private.start_date or (
        d.last_seen_month if d else None) or act.start_month
    place = (d.private.last_seen_place if d else None) or act.private.location
    forces = d.forces_responsible if d else None
    forces = forces or next((i.perpetrator_type for a in acts for i in a.perpetrators
                             if i.perpetrator_type), None)
    steps = [s.model_dump() for s in d.private.steps_taken] if d else []
    missing = _missing((("victim.name", p.private.name), ("disappearance.date", date),
                        ("disappearance.place", place), ("disappearance.forces", forces),
                        ("steps_taken_by_relatives", steps)))
    return {
        "person_id": str(p.id),
        "identity": _identity(p, lang),
        "disappearance": {
            "date": date, "date_precision": _lbl("date_precision", act.date_precision, lang),
            "place": place,
            "region": _lbl("region", (d.region if d else None) or act.region, lang),
            "circumstances": (d.private.circumstances if d else None)
            or act.private.stated_reason,
            "forces_believed_responsible": _lbl("perpetrator_type", forces, lang),
            "state_acknowledgement": _lbl("whereabouts", d.state_acknowledgement if d else None,
                                          lang),
            "current_status": _lbl("status_at_end",
                                   (d.current_status if d else None) or act.status_at_end, lang),
            "wgeid_urgent": bool(d and d.wgeid_urgent),
        },
        "steps_taken_by_relatives": steps,
        "perpetrators": _perpetrators(acts, lang),
        "_missing": missing,
    }


def _wgad_victim(p: Person, acts: list[Act], lang: Language) -> dict[str, Any]:
    act = next((a for a in acts if a.detention is not None), acts[0])
    det = act.detention
    forces = sorted({i.perpetrator_type for a in acts for i in a.perpetrators
                     if i.perpetrator_type})
    categories = det.wgad_categories if det else []
    missing = _missing((("victim.name", p.private.name),
                        ("arrest.date", act.private.start_date or act.start_month),
                        ("arrest.place", act.private.location),
                        ("arrest.forces", forces),
                        ("detention.legal_basis", det.legal_basis if det else None),
                        ("arbitrariness.categories", categories)))
    return {
        "person_id": str(p.id),
        "identity": _identity(p, lang),
        "arrest": {
            "date": act.private.start_date or act.start_month,
            "place": act.private.location,
            "region": _lbl("region", act.region, lang),
            "forces": [label("perpetrator_type", f, lang) for f in forces],
            "warrant_shown": det.warrant_shown if det else None,
            "authority": det.private.ordering_authority if det else None,
            "reasons_given": (det.private.reasons_given if det else None)
            or act.private.stated_reason,
            "legal_basis": [label("legal_basis", c, lang) for c in (det.legal_basis if det
                                                                    else [])],
        },
        "detention": {
            "regime": _lbl("detention_regime", det.legal_regime if det else None, lang),
            "facility_type": _lbl("facility_type", det.facility_type if det else None, lang),
            "facility_name": det.private.facility_name if det else None,
            "ongoing": det.ongoing if det else None,
            "ordering_authority": det.private.ordering_authority if det else None,
            "case_number": det.private.case_number if det else None,
            "transfers": det.private.transfers if det else [],
            "court": _lbl("court_type", det.court_type if det else None, lang),
            "sentence": det.private.sentence if det else None,
            "counsel_access": _lbl("counsel_access", det.counsel_access if det else None, lang),
            "whereabouts": _lbl("whereabouts", det.whereabouts if det else None, lang),
        },
        "arbitrariness": {
            "categories": [{"code": c, "label": label("wgad_category", c, lang)}
                           for c in categories],
        },
        "domestic_remedies": det.private.domestic_remedies if det else None,
        "perpetrators": _perpetrators(acts, lang),
        "_missing": missing,
    }
