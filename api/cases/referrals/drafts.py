"""Pre-filled referral drafts for the UN Working Groups (WGEID, WGAD), consent enforced.

A draft is built only when every victim it covers has active consent (``case_consent``)
for sharing with that mechanism (``share_un_wgeid`` / ``share_un_wgad``) and for being
named to the government (``un_name_to_government``): both Working Groups transmit the
person's identity to the government concerned. Otherwise the request is refused (409)
naming each missing person and scope. Nothing is stored: the draft is rendered from the
case on each request, as JSON or as a Markdown document, and the export is audited.

Languages: en, fr, es (the Working Groups' working languages, for filing) and be, ru, uk
(for reading the draft through with the family). Vocabulary values are printed as labels
in that language: the vocabularies carry en/be/ru/uk, French and Spanish come from
``data/labels_fr_es.json``. What staff wrote is printed as written.

Structure follows the Working Groups' questionnaires (outline in docs/case-metadata.md,
"Referral drafts"):

* WGEID: identity of the disappeared person; date and place of arrest, abduction or last
  sighting; forces believed responsible; state acknowledgement; steps taken by relatives
  (with whom, when, outcome); the source and its relationship to the person; whether the
  urgent procedure applies, recomputed on the day the draft is made.
* WGAD: identity; every detention of the person, each with its own arrest (date, place of
  the act, forces from that act's involvements only, warrant), detention (places,
  custodians, transfers, current place, end or duration), legal basis, trial, the
  circumstances, the facts per category I-V and the domestic remedies tried; ill-treatment
  and forced confessions from the person's torture acts.
* Both: the submitting organisation (its profile, :mod:`.profile`), the source, and a
  consent statement (who consented, when, to what) from ``case_consent``.

``missing`` lists every required element still empty, so a caseworker sees what to
complete before sending; a draft with an empty ``missing`` is complete for the form.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any, Literal, get_args

from sqlmodel import Session

from api.audit import actions
from api.audit import service as audit
from api.auth.principals import Principal
from api.cases.metadata import consent, store
from api.cases.metadata.document import Act, Detention, Metadata, Person
from api.cases.models import CaseConsent
from api.cases.referrals import profile as org_profile
from api.cases.referrals.catalog import DraftLanguage, word
from api.cases.referrals.labels import vocab_label
from api.cases.service import open_case
from api.core.errors import Conflict, InvalidInput
from api.core.models import utcnow
from api.vocab.registry import label

Mechanism = Literal["wgeid", "wgad"]
DRAFT_LANGUAGES: tuple[DraftLanguage, ...] = get_args(DraftLanguage)
SHARE_SCOPE = {"wgeid": "share_un_wgeid", "wgad": "share_un_wgad"}
NAME_SCOPE = "un_name_to_government"
DISAPPEARANCE_ACTS = frozenset({"disappearance", "abduction"})
DETENTION_ACTS = frozenset({"arrest", "detention", "house_arrest", "mass_roundup"})
# Regimes that follow a criminal charge: the WGAD asks about the trial for these.
TRIED_REGIMES = frozenset({"pretrial_custody", "imprisonment", "restriction_of_freedom"})
# The vocabularies a draft prints (their French and Spanish labels must all exist).
PRINTED_VOCABULARIES = (
    "sex", "age_band", "perpetrator_type", "legal_basis", "wgad_category", "detention_regime",
    "facility_type", "court_type", "counsel_access", "whereabouts", "status_at_end",
    "date_precision", "region", "consent_scope", "statement_signed", "torture_method",
)


class ConsentMissing(Conflict):
    code = "consent_missing"
    default_message = "The consent needed for this referral has not been given."


def _lbl(vocab: str, code: str | None, lang: DraftLanguage) -> str | None:
    return None if code is None else vocab_label(vocab, code, lang)


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
    lang: DraftLanguage, person_id: uuid.UUID | None = None, today: date | None = None,
) -> dict[str, Any]:
    """The draft as a JSON-ready dict; ``today`` (default: the current UTC day) is the day
    the urgent procedure is judged against."""
    case, key = open_case(session, principal, case_id)
    meta = store.load_metadata(session, case, key)
    victims = _relevant(meta, mechanism)
    if person_id is not None:
        victims = {pid: acts for pid, acts in victims.items() if pid == person_id}
    if not victims:
        what = "an enforced disappearance" if mechanism == "wgeid" else "a detention"
        raise InvalidInput(f"This case records no {what} to refer"
                           + (" for that person." if person_id else "."))
    scopes = (SHARE_SCOPE[mechanism], NAME_SCOPE)
    missing_consent = [
        {"person_id": str(pid), "scope": scope}
        for pid in victims for scope in scopes
        if not consent.has_consent(session, case.id, pid, scope)
    ]
    if missing_consent:
        needed = sorted({m["scope"] for m in missing_consent})
        raise ConsentMissing(
            f"A referral to the {word('name_' + mechanism, 'en')} needs "
            "each victim's active consent for: "
            + ", ".join(f"'{s}' ({label('consent_scope', s, 'en')})" for s in needed)
            + ". Record the consent first (POST .../consents).",
            details={"missing": missing_consent},
        )
    day = today or utcnow().date()
    persons = {p.id: p for p in meta.persons}
    entries: list[dict[str, Any]] = []
    for pid, acts in victims.items():
        if mechanism == "wgeid":
            entry = _wgeid_victim(persons[pid], acts, lang, day)
        else:
            tortures = [a for a in meta.acts if a.victim_id == pid and a.torture is not None]
            entry = _wgad_victim(persons[pid], acts, tortures, lang)
        entry["consent"] = _consent_statement(session, case.id, persons[pid], scopes, lang)
        entries.append(entry)
    source, source_missing = _source(session, meta, lang)
    doc: dict[str, Any] = {
        "mechanism": mechanism.upper(),
        "addressee": word("name_" + mechanism, lang),
        "language": lang,
        "case_reference": case.reference,
        "drafted_on": day.isoformat(),
        "victims": entries,
        "source": source,
        "missing": sorted({*source_missing, *(m for e in entries for m in e.pop("_missing"))}),
    }
    if mechanism == "wgeid":
        doc["procedure"] = ("urgent_action" if any(e["disappearance"]["urgent"]
                                                   for e in entries) else "standard")
    audit.record(session, action=actions.EXPORT, actor_id=principal.user_id, case_id=case.id,
                 target=str(case.id), details={"export": f"referral_{mechanism}",
                                               "victims": len(entries)})
    return doc


def _missing(prefix: str, required: Iterable[tuple[str, object]]) -> list[str]:
    """The names of the required fields that are still empty, in the order given."""
    return [prefix + name for name, value in required if value in (None, "", [], {})]


def _identity(p: Person, lang: DraftLanguage) -> tuple[dict[str, Any], list[str]]:
    out = {
        "name": p.private.name, "other_names": p.private.other_names,
        "sex": _lbl("sex", p.sex, lang), "birth_date": p.private.birth_date,
        "age_band": _lbl("age_band", p.age_band, lang), "citizenship": p.citizenship,
        "id_number": p.private.id_number, "occupation": p.private.occupation,
        "address": p.private.address,
    }
    return out, _missing("identity.", [(k, out[k]) for k in
                                       ("name", "sex", "birth_date", "citizenship")])


def _involvements(act: Act, lang: DraftLanguage) -> list[dict[str, Any]]:
    return [{"type": _lbl("perpetrator_type", inv.perpetrator_type, lang),
             "names": inv.private.names, "unit": inv.private.unit,
             "badge_numbers": inv.private.badge_numbers,
             "description": inv.private.description}
            for inv in act.perpetrators]


def _consent_statement(session: Session, case_id: uuid.UUID, p: Person,
                       scopes: Iterable[str], lang: DraftLanguage) -> list[dict[str, Any]]:
    """Who consented, when, to what: one line per scope the referral needs (the gate above
    has already checked each is active)."""
    out: list[dict[str, Any]] = []
    for scope in scopes:
        row: CaseConsent | None = consent.active_row(session, p.id, scope) if p.id else None
        if row is None or row.case_id != case_id:
            continue
        out.append({
            "scope": vocab_label("consent_scope", scope, lang),
            "given_by": word("consent_on_behalf" if row.on_behalf else "consent_by_person",
                             lang),
            "person": p.private.name,
            "recorded_on": row.recorded_at.date().isoformat(),
            "recorded_from": word("consent_from_intake" if row.source == "intake"
                                  else "consent_from_staff", lang),
        })
    return out


def _source(session: Session, meta: Metadata, lang: DraftLanguage
            ) -> tuple[dict[str, Any], list[str]]:
    """The submitting organisation (its profile) and the case's source persons."""
    prof = org_profile.get(session)
    sources = [p for p in meta.persons if p.role == "source"]
    out: dict[str, Any] = {
        "organisation": None if prof is None else {"name": prof.name, "contact": prof.contact},
        "confidential": prof.source_confidential if prof is not None else True,
        "persons": [{"name": p.private.name, "relationship": p.private.relationship,
                     "contact": p.private.contact or p.private.phone or p.private.email}
                    for p in sources],
    }
    out["note"] = word("source_note_confidential" if out["confidential"]
                       else "source_note_open", lang)
    missing = []
    if prof is None:
        missing.append("source.organisation")
    if not sources:
        missing.append("source.persons")
    for i, p in enumerate(sources):
        missing += _missing(f"source.persons[{i}].", [
            ("name", p.private.name), ("relationship", p.private.relationship),
            ("contact", p.private.contact or p.private.phone or p.private.email)])
    return out, missing


# ---------------------------------------------------------------- WGEID

def _wgeid_victim(p: Person, acts: list[Act], lang: DraftLanguage, today: date
                  ) -> dict[str, Any]:
    act = next((a for a in acts if a.disappearance is not None), acts[0])
    d = act.disappearance
    date_ = (d.private.last_seen_date if d else None) or act.private.start_date or (
        d.last_seen_month if d else None) or act.start_month
    place = (d.private.last_seen_place if d else None) or act.private.location
    forces = d.forces_responsible if d else None
    forces = forces or next((i.perpetrator_type for i in act.perpetrators
                             if i.perpetrator_type), None)
    steps = [s.model_dump() for s in d.private.steps_taken] if d else []
    identity, missing = _identity(p, lang)
    missing += _missing("disappearance.", (
        ("date", date_), ("place", place), ("forces_believed_responsible", forces),
        ("circumstances", (d.private.circumstances if d else None)
         or act.private.stated_reason)))
    missing += _missing("", [("steps_taken_by_relatives", steps)])
    for i, step in enumerate(steps):
        missing += _missing(f"steps_taken_by_relatives[{i}].", [
            ("date", step["date"]), ("addressed_to", step["addressed_to"]),
            ("outcome", step["outcome"])])
    return {
        "person_id": str(p.id),
        "identity": identity,
        "disappearance": {
            "date": date_, "date_precision": _lbl("date_precision", act.date_precision, lang),
            "place": place,
            "region": _lbl("region", (d.region if d else None) or act.region, lang),
            "circumstances": (d.private.circumstances if d else None)
            or act.private.stated_reason,
            "forces_believed_responsible": _lbl("perpetrator_type", forces, lang),
            "state_acknowledgement": _lbl("whereabouts", d.state_acknowledgement if d else None,
                                          lang),
            "current_status": _lbl("status_at_end",
                                   (d.current_status if d else None) or act.status_at_end, lang),
            # Judged on the day of the draft, not when the case was written (stored flag).
            "urgent": bool(d and store.wgeid_urgent(d, today)),
        },
        "steps_taken_by_relatives": steps,
        "perpetrators": _involvements(act, lang),
        "_missing": missing,
    }


# ---------------------------------------------------------------- WGAD

def _duration_days(start: str | None, end: str | None) -> int | None:
    if not (start and end and len(start) == 10 and len(end) == 10):
        return None
    return (date.fromisoformat(end) - date.fromisoformat(start)).days + 1


def _trial(det: Detention, lang: DraftLanguage) -> dict[str, Any] | None:
    t = det.private.trial
    if t is None and det.court_type is None:
        return None
    return {
        "court_type": _lbl("court_type", det.court_type, lang),
        "court": t.court if t else None,
        "judge": (t.judge if t else None) or det.private.judge,
        "case_number": (t.case_number if t else None) or det.private.case_number,
        "opened_on": t.opened_on if t else None,
        "judgment_on": t.judgment_on if t else None,
        "closed_hearing": det.trial_closed,
        "video_link": det.trial_video_link,
        "in_absentia": det.special_proceedings,
        "counsel": (t.counsel if t else None) or det.private.counsel_name,
        "counsel_access": _lbl("counsel_access", det.counsel_access, lang),
        "charges": t.charges if t else None,
        "sentence": (t.sentence if t else None) or det.private.sentence,
        "appeals": [a.model_dump() for a in t.appeals] if t else [],
    }


def _detention(act: Act, n: int, lang: DraftLanguage) -> tuple[dict[str, Any], list[str]]:
    det = act.detention or Detention()
    pv = det.private
    start = act.private.start_date or act.start_month
    end = act.private.end_date or act.end_month
    forces = sorted({i.perpetrator_type for i in act.perpetrators if i.perpetrator_type})
    places = [x for x in (pv.facility_name, *pv.transfers) if x]
    trial = _trial(det, lang)
    facts = pv.category_facts
    out: dict[str, Any] = {
        "act_id": str(act.id),
        "arrest": {
            "date": start,
            "date_precision": _lbl("date_precision", act.date_precision, lang),
            # The place of the act (where the person was taken), never the facility.
            "place": act.private.location,
            "region": _lbl("region", act.region, lang),
            # Only the forces involved in this act, not every perpetrator of the case.
            "forces": [vocab_label("perpetrator_type", f, lang) for f in forces],
            "officers": _involvements(act, lang),
            "warrant_shown": det.warrant_shown,
            "ordering_authority": pv.ordering_authority,
            "order_number": pv.order_number,
            "reasons_given": pv.reasons_given or act.private.stated_reason,
        },
        "detention": {
            "regime": _lbl("detention_regime", det.legal_regime, lang),
            "facility_type": _lbl("facility_type", det.facility_type, lang),
            "places": places,
            "custodians": pv.custodians,
            "transfers": pv.transfers,
            "current_place": pv.current_place if det.ongoing else None,
            "whereabouts": _lbl("whereabouts", det.whereabouts, lang),
            "ongoing": det.ongoing,
            "start": start,
            "end": None if det.ongoing else end,
            "duration_days": None if det.ongoing else _duration_days(
                act.private.start_date, act.private.end_date),
        },
        "legal_basis": [vocab_label("legal_basis", c, lang) for c in det.legal_basis],
        "trial": trial,
        "circumstances": pv.circumstances or act.private.stated_reason,
        "arbitrariness": [
            {"code": c, "label": vocab_label("wgad_category", c, lang),
             "facts": getattr(facts, c, None)} for c in det.wgad_categories],
        "domestic_remedies": [r.model_dump() for r in pv.remedies],
        "domestic_remedies_note": pv.domestic_remedies,
    }
    prefix = f"detentions[{n}]."
    missing = _missing(prefix, (
        ("arrest.date", start), ("arrest.place", act.private.location),
        ("arrest.forces", forces), ("arrest.warrant_shown", det.warrant_shown),
        ("detention.regime", det.legal_regime),
        ("detention.places", places or det.facility_type),
        ("legal_basis", det.legal_basis), ("circumstances", out["circumstances"]),
        ("arbitrariness", det.wgad_categories), ("domestic_remedies", pv.remedies)))
    if det.ongoing:
        missing += _missing(prefix, [("detention.current_place", pv.current_place)])
    elif out["detention"]["end"] is None:
        missing.append(prefix + "detention.end")
    missing += [f"{prefix}arbitrariness.{c}.facts" for c in det.wgad_categories
                if not getattr(facts, c, None)]
    if det.legal_regime in TRIED_REGIMES:
        t = trial or {}
        missing += _missing(prefix + "trial.", [(k, t.get(k)) for k in (
            "court", "judge", "case_number", "opened_on", "counsel")])
        if det.legal_regime == "imprisonment":
            missing += _missing(prefix + "trial.", [("judgment_on", t.get("judgment_on")),
                                                    ("sentence", t.get("sentence"))])
    for i, r in enumerate(pv.remedies):
        missing += _missing(f"{prefix}domestic_remedies[{i}].",
                            [("date", r.date), ("outcome", r.outcome)])
    return out, missing


def _ill_treatment(act: Act, lang: DraftLanguage) -> dict[str, Any]:
    t = act.torture
    assert t is not None
    return {
        "date": act.private.start_date or act.start_month,
        "place": act.private.location,
        "methods": [vocab_label("torture_method", m, lang) for m in t.methods],
        "description": t.private.description,
        "injuries": t.private.injuries,
        "forced_confession": _lbl("statement_signed", t.statement_signed, lang),
        "perpetrators": _involvements(act, lang),
    }


def _wgad_victim(p: Person, acts: list[Act], tortures: list[Act], lang: DraftLanguage
                 ) -> dict[str, Any]:
    identity, missing = _identity(p, lang)
    # Oldest first: the Working Group reads the history up to the detention it examines.
    ordered = sorted(acts, key=lambda a: a.private.start_date or a.start_month or "")
    detentions = []
    for n, act in enumerate(ordered):
        entry, lacks = _detention(act, n, lang)
        detentions.append(entry)
        missing += lacks
    return {
        "person_id": str(p.id),
        "identity": identity,
        "detentions": detentions,
        "ill_treatment": [_ill_treatment(a, lang) for a in tortures],
        "ill_treatment_reported": bool(tortures),
        "_missing": missing,
    }
