"""Reading and writing the structured metadata of a case (sealing the private parts).

A ``PATCH`` replaces each section it names (summary, persons, acts, interventions) and leaves
the others alone. Rows keep their ids when the client sends them back, so consents and acts
keep pointing at the same person. A person still named by a consent or an act cannot be
removed (409): consent is revoked, never deleted.

After every write the case's urgency is re-derived (:func:`derived_urgency`): ongoing
detention, risk of torture, and a disappearance reported within 90 days of the person
last being seen (the WGEID urgent procedure) each add a reason; manual reasons stay.
"""

from __future__ import annotations

import uuid
from calendar import monthrange
from collections.abc import Callable
from datetime import date, timedelta
from typing import TypeVar, cast

from pydantic import BaseModel
from sqlalchemy import ColumnElement, delete
from sqlmodel import Session, col, select

from api.cases.files.models import Attachment
from api.cases.metadata import document as s
from api.cases.metadata.contexts import metadata_context, summary_context
from api.cases.models import (
    SOURCE_INTAKE,
    SOURCE_STAFF,
    Case,
    CaseAct,
    CaseCode,
    CaseConsent,
    CaseDesignation,
    CaseDetention,
    CaseDisappearance,
    CaseEvidence,
    CaseInformation,
    CaseIntervention,
    CaseInvolvement,
    CasePerson,
    CaseRelationship,
    CaseTorture,
    CaseTortureMethod,
    CaseWitness,
)
from api.cases.threads.models import Submission
from api.cases.workflow.urgency import (
    NOT_DISCLOSED_WHEREABOUTS,
    ONGOING_DETENTION,
    STILL_MISSING,
    TORTURE_RISK,
    WGEID_URGENT,
    WGEID_URGENT_DAYS,
)
from api.core.errors import Conflict, InvalidInput
from crypto.fields import SealedJSON
from crypto.keys import DataKey

_P = TypeVar("_P", bound=BaseModel)


def _seal(
    key: DataKey, case_id: uuid.UUID, table: str, row_id: uuid.UUID, value: BaseModel
) -> bytes:
    data = value.model_dump(mode="json")
    return SealedJSON.seal(key, data, metadata_context(case_id, table, row_id)).ciphertext


def _open(
    key: DataKey, case_id: uuid.UUID, table: str, row_id: uuid.UUID, blob: bytes, model: type[_P]
) -> _P:
    data = SealedJSON(blob).open(key, metadata_context(case_id, table, row_id))
    return model.model_validate(data)


def _codes(session: Session, case_id: uuid.UUID, subject_ids: list[uuid.UUID]) -> dict[
    tuple[uuid.UUID, str], list[str]
]:
    out: dict[tuple[uuid.UUID, str], list[str]] = {}
    if not subject_ids:
        return out
    rows = session.exec(
        select(CaseCode).where(CaseCode.case_id == case_id,
                               col(CaseCode.subject_id).in_(subject_ids))
    )
    for row in rows:
        out.setdefault((row.subject_id, row.vocab), []).append(row.code)
    for codes in out.values():
        codes.sort()
    return out


def _designations(session: Session, case_id: uuid.UUID) -> dict[uuid.UUID,
                                                                 list[s.Designation]]:
    out: dict[uuid.UUID, list[s.Designation]] = {}
    rows = session.exec(select(CaseDesignation).where(CaseDesignation.case_id == case_id))
    # Sorted here, not in SQL: the engines disagree on where NULL months go.
    for row in sorted(rows, key=lambda r: (r.month or "", r.list_type)):
        out.setdefault(row.person_id, []).append(
            s.Designation.model_construct(list_type=row.list_type, month=row.month))
    return out


def _add_designations(session: Session, case_id: uuid.UUID, person_id: uuid.UUID,
                      items: list[s.Designation]) -> None:
    # One row per (list, month): the same listing sent twice is stored once.
    for list_type, month in sorted({(d.list_type, d.month) for d in items},
                                   key=lambda pair: (pair[1] or "", pair[0])):
        session.add(CaseDesignation(case_id=case_id, person_id=person_id,
                                    list_type=list_type, month=month))


def _add_codes(session: Session, case_id: uuid.UUID, subject: uuid.UUID, vocab: str,
               codes: list[str]) -> None:
    for code in sorted(set(codes)):
        session.add(CaseCode(case_id=case_id, subject_id=subject, vocab=vocab, code=code))


# ---------------------------------------------------------------- read

def load_summary(case: Case, key: DataKey) -> s.Summary:
    if case.sealed_summary is None:
        return s.Summary()
    data = SealedJSON(case.sealed_summary).open(key, summary_context(case.id))
    return s.Summary.model_validate(data)


def load_metadata(session: Session, case: Case, key: DataKey) -> s.Metadata:
    cid = case.id
    persons = list(session.exec(select(CasePerson).where(CasePerson.case_id == cid)
                                .order_by(col(CasePerson.id))))
    acts = list(session.exec(
        select(CaseAct).where(CaseAct.case_id == cid).order_by(col(CaseAct.id))))
    act_ids = [a.id for a in acts]
    dets = {d.act_id: d for d in session.exec(
        select(CaseDetention).where(CaseDetention.case_id == cid))}
    tors = {t.act_id: t for t in session.exec(
        select(CaseTorture).where(CaseTorture.case_id == cid))}
    diss = {d.act_id: d for d in session.exec(
        select(CaseDisappearance).where(CaseDisappearance.case_id == cid))}
    invs: dict[uuid.UUID, list[CaseInvolvement]] = {}
    for inv in session.exec(select(CaseInvolvement).where(CaseInvolvement.case_id == cid)
                            .order_by(col(CaseInvolvement.id))):
        invs.setdefault(inv.act_id, []).append(inv)
    codes = _codes(session, cid, [p.id for p in persons] + act_ids)
    origin = _provenance(session, [*persons, *acts])
    listed = _designations(session, cid)
    extra = _load_act_extras(session, key, cid)

    out_persons = [
        s.Person.model_construct(
            id=p.id, role=cast(s.PersonRole, p.role), sex=p.sex, age_band=p.age_band,
            citizenship=p.citizenship, residence_country=p.residence_country,
            characteristics=codes.get((p.id, "victim_characteristic"), []),
            designations=listed.get(p.id, []),
            political_prisoner=None if p.political_prisoner_recognised_by is None else
            s.PoliticalPrisonerRecognition.model_construct(
                recognised_by=p.political_prisoner_recognised_by,
                month=p.political_prisoner_month),
            perpetrator_type=p.perpetrator_type, perpetrator_ref=p.perpetrator_ref,
            private=_open(key, cid, "case_person", p.id, p.sealed, s.PersonPrivate),
            provenance=origin(p),
        )
        for p in persons
    ]
    out_acts: list[s.Act] = []
    for a in acts:
        det = dets.get(a.id)
        tor = tors.get(a.id)
        dis = diss.get(a.id)
        out_acts.append(s.Act.model_construct(
            id=a.id, victim_id=a.victim_id, act_type=a.act_type, start_month=a.start_month,
            end_month=a.end_month, date_precision=a.date_precision, region=a.region,
            facility=a.facility, status_at_end=a.status_at_end,
            preceding_act_id=a.preceding_act_id, chain_link=a.chain_link,
            witness_ids=extra.witnesses.get(a.id, []),
            private=_open(key, cid, "case_act", a.id, a.sealed, s.ActPrivate),
            detention=None if det is None else s.Detention.model_construct(
                legal_regime=det.legal_regime, facility_type=det.facility_type,
                whereabouts=det.whereabouts, counsel_access=det.counsel_access,
                court_type=det.court_type, warrant_shown=det.warrant_shown, ongoing=det.ongoing,
                admin_arrest_days=det.admin_arrest_days, fine_band=det.fine_band,
                special_proceedings=det.special_proceedings, verdict_month=det.verdict_month,
                trial_closed=det.trial_closed, trial_video_link=det.trial_video_link,
                legal_basis=codes.get((a.id, "legal_basis"), []),
                wgad_categories=codes.get((a.id, "wgad_category"), []),
                private=_open(key, cid, "case_detention", a.id, det.sealed, s.DetentionPrivate),
            ),
            torture=None if tor is None else s.Torture.model_construct(
                methods=codes.get((a.id, "torture_method"), []),
                intents=codes.get((a.id, "intent"), []),
                statement_signed=tor.statement_signed, medical_attention=tor.medical_attention,
                medical_examination=tor.medical_examination,
                psych_evaluation=tor.psych_evaluation, ip_consistency=tor.ip_consistency,
                method_details=extra.methods.get(a.id, []),
                body_areas=codes.get((a.id, "body_area"), []),
                positions=codes.get((a.id, "ip_position"), []),
                objects=codes.get((a.id, "ip_object"), []),
                psych_sequelae=codes.get((a.id, "psych_sequela"), []),
                examiner_qualification=tor.examiner_qualification,
                evidence=extra.evidence.get(a.id, []),
                private=_open(key, cid, "case_torture", a.id, tor.sealed, s.TorturePrivate),
            ),
            disappearance=None if dis is None else s.Disappearance.model_construct(
                last_seen_month=dis.last_seen_month, region=dis.region,
                forces_responsible=dis.forces_responsible,
                state_acknowledgement=dis.state_acknowledgement,
                current_status=dis.current_status, wgeid_urgent=dis.wgeid_urgent,
                private=_open(key, cid, "case_disappearance", a.id, dis.sealed,
                              s.DisappearancePrivate),
            ),
            perpetrators=[
                s.Involvement.model_construct(
                    id=i.id, perpetrator_type=i.perpetrator_type, degree=i.degree,
                    person_id=i.person_id,
                    private=_open(key, cid, "case_involvement", i.id, i.sealed,
                                  s.InvolvementPrivate),
                )
                for i in invs.get(a.id, [])
            ],
            provenance=origin(a),
        ))
    interventions = [
        s.Intervention.model_construct(
            id=i.id, intervention_type=i.intervention_type, month=i.month, status=i.status,
            private=_open(key, cid, "case_intervention", i.id, i.sealed, s.InterventionPrivate),
        )
        for i in session.exec(select(CaseIntervention).where(CaseIntervention.case_id == cid)
                              .order_by(col(CaseIntervention.id)))
    ]
    unconfirmed = (sum(p.source == SOURCE_INTAKE for p in persons)
                   + sum(a.source == SOURCE_INTAKE for a in acts))
    return s.Metadata(summary=load_summary(case, key), persons=out_persons, acts=out_acts,
                      interventions=interventions,
                      relationships=_load_relationships(session, cid),
                      information=_load_information(session, key, cid),
                      unconfirmed=unconfirmed)


def intake_statement(reported_on: date | None) -> str:
    """The wording every intake item carries until a caseworker confirms it."""
    return "as reported at intake" + (f", {reported_on.isoformat()}" if reported_on else "")


def _provenance(session: Session, rows: list[CasePerson | CaseAct]
                ) -> Callable[[CasePerson | CaseAct], s.Provenance]:
    """Provenance of each row, with the day its report was received (one query)."""
    sub_ids = {r.source_submission_id for r in rows if r.source_submission_id is not None}
    days: dict[uuid.UUID, date] = {}
    if sub_ids:
        days = {sub.id: sub.received_on for sub in session.exec(
            select(Submission).where(col(Submission.id).in_(sub_ids)))}

    def of(row: CasePerson | CaseAct) -> s.Provenance:
        if row.source != SOURCE_INTAKE:
            return s.Provenance(source="staff")
        day = days.get(row.source_submission_id) if row.source_submission_id else None
        return s.Provenance(source="intake", submission_id=row.source_submission_id,
                            reported_on=day, statement=intake_statement(day))
    return of


_Origin = tuple[str, uuid.UUID | None]


def _kept_origins(items: list[s.Person] | list[s.Act], stored: list[s.Person] | list[s.Act]
                  ) -> dict[uuid.UUID, _Origin]:
    """Ids of the items that keep their intake provenance through a PATCH: sent back with it
    and unchanged. Everything else a caseworker sends becomes theirs ("staff")."""
    before = {i.id: i for i in stored if i.id is not None}
    kept: dict[uuid.UUID, _Origin] = {}
    for item in items:
        old = before.get(item.id) if item.id is not None else None
        if (old is None or old.provenance is None or old.provenance.source != SOURCE_INTAKE
                or item.provenance is None or item.provenance.source != SOURCE_INTAKE):
            continue
        if _content(item) == _content(old):
            assert item.id is not None
            kept[item.id] = (SOURCE_INTAKE, old.provenance.submission_id)
    return kept


def _content(item: BaseModel) -> object:
    return item.model_dump(mode="json", exclude={"provenance"})


# ---------------------------------------------------------------- write

def apply_patch(session: Session, case: Case, key: DataKey, patch: s.MetadataPatch) -> list[str]:
    """Write the sections of ``patch``; return the names of the sections it changed."""
    changed: list[str] = []
    given = patch.model_fields_set
    for name in ("region", "period_start_month", "period_end_month", "date_precision"):
        if name in given:
            setattr(case, name, getattr(patch, name))
            changed.append(name)
    if "priority" in given and patch.priority is not None:
        case.priority = patch.priority
        case.priority_rank = PRIORITY_RANK[patch.priority]
        changed.append("priority")
    if "summary" in given and patch.summary is not None:
        case.sealed_summary = SealedJSON.seal(
            key, patch.summary.model_dump(mode="json"), summary_context(case.id)
        ).ciphertext
        changed.append("summary")
    # Sections that point at persons or acts go first, so a PATCH that rewrites them with
    # the persons or acts they name is not refused for the rows it is about to replace.
    if patch.information is not None:
        session.execute(delete(CaseInformation).where(col(CaseInformation.case_id) == case.id))
    if patch.relationships is not None:
        session.execute(delete(CaseRelationship).where(
            col(CaseRelationship.case_id) == case.id))
    kept: dict[uuid.UUID, _Origin] = {}
    if patch.acts is not None or patch.persons is not None:
        before = load_metadata(session, case, key)
        kept.update(_kept_origins(patch.persons or [], before.persons))
        kept.update(_kept_origins(patch.acts or [], before.acts))
    if patch.acts is not None:
        _delete_acts(session, case.id)
        changed.append("acts")
    if patch.persons is not None:
        _write_persons(session, case, key, patch.persons, kept)
        changed.append("persons")
    if patch.acts is not None:
        _insert_acts(session, case, key, patch.acts, kept)
        if patch.information is None:
            _check_information_acts(session, case.id)
    if patch.information is not None:
        _write_information(session, case, key, patch.information)
        changed.append("information")
    if patch.relationships is not None:
        _write_relationships(session, case, patch.relationships)
        changed.append("relationships")
    if patch.interventions is not None:
        session.execute(delete(CaseIntervention).where(col(CaseIntervention.case_id) == case.id))
        for item in patch.interventions:
            row_id = item.id or uuid.uuid4()
            session.add(CaseIntervention(
                id=row_id, case_id=case.id, intervention_type=item.intervention_type,
                month=item.month, status=item.status,
                sealed=_seal(key, case.id, "case_intervention", row_id, item.private),
            ))
        changed.append("interventions")
    session.flush()
    return changed


PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2}


def _write_persons(session: Session, case: Case, key: DataKey, persons: list[s.Person],
                   kept: dict[uuid.UUID, _Origin] | None = None) -> None:
    existing = {p.id: p for p in session.exec(
        select(CasePerson).where(CasePerson.case_id == case.id))}
    assigned: list[uuid.UUID] = []
    for index, item in enumerate(persons):
        row = existing.get(item.id) if item.id is not None else None
        if row is None:
            row = CasePerson(id=item.id or uuid.uuid4(), case_id=case.id, role=item.role,
                             sealed=b"")
            session.add(row)
        if row.id in assigned:
            raise InvalidInput("The same person id appears twice.",
                               details={"path": f"persons[{index}].id"})
        _check_perpetrator_fields(item, f"persons[{index}]")
        _set_person(row, key, case.id, item)
        row.source, row.source_submission_id = (kept or {}).get(row.id, (SOURCE_STAFF, None))
        assigned.append(row.id)
    removed = [pid for pid in existing if pid not in assigned]
    if removed:
        _refuse_removing_named_persons(session, removed)
    session.flush()
    session.execute(delete(CaseCode).where(
        col(CaseCode.case_id) == case.id, col(CaseCode.vocab) == "victim_characteristic"))
    session.execute(delete(CaseDesignation).where(col(CaseDesignation.case_id) == case.id))
    if removed:
        session.execute(delete(CasePerson).where(col(CasePerson.id).in_(removed)))
    for item, pid in zip(persons, assigned, strict=True):
        _add_codes(session, case.id, pid, "victim_characteristic", item.characteristics)
        _add_designations(session, case.id, pid, item.designations)
    session.flush()


def _set_person(row: CasePerson, key: DataKey, case_id: uuid.UUID, item: s.Person) -> None:
    """The person's plain coarse columns and sealed private part from ``item``."""
    row.role = item.role
    row.sex = item.sex
    row.age_band = item.age_band
    row.citizenship = item.citizenship
    row.residence_country = item.residence_country
    pp = item.political_prisoner
    row.political_prisoner_recognised_by = None if pp is None else pp.recognised_by
    row.political_prisoner_month = None if pp is None else pp.month
    row.perpetrator_type = item.perpetrator_type
    row.perpetrator_ref = item.perpetrator_ref
    row.sealed = _seal(key, case_id, "case_person", row.id, item.private)


def _delete_acts(session: Session, case_id: uuid.UUID) -> None:
    act_ids = list(session.exec(select(CaseAct.id).where(CaseAct.case_id == case_id)))
    if not act_ids:
        return
    for model in (CaseDetention, CaseTorture, CaseDisappearance, CaseInvolvement,
                  CaseWitness, CaseTortureMethod, CaseEvidence):
        session.execute(delete(model).where(col(model.act_id).in_(act_ids)))
    session.execute(delete(CaseCode).where(col(CaseCode.subject_id).in_(act_ids)))
    session.execute(delete(CaseAct).where(col(CaseAct.id).in_(act_ids)))
    session.flush()


def _insert_acts(session: Session, case: Case, key: DataKey, acts: list[s.Act],
                 kept: dict[uuid.UUID, _Origin] | None = None) -> None:
    cid = case.id
    persons = set(session.exec(select(CasePerson.id).where(CasePerson.case_id == cid)))
    seen: set[uuid.UUID] = set()
    for index, item in enumerate(acts):
        if item.victim_id not in persons:
            raise InvalidInput("An act names a victim who is not a person of this case.",
                               details={"path": f"acts[{index}].victim_id"})
        act_id = item.id or uuid.uuid4()
        if act_id in seen:
            raise InvalidInput("The same act id appears twice.",
                               details={"path": f"acts[{index}].id"})
        seen.add(act_id)
        source, source_submission_id = (kept or {}).get(act_id, (SOURCE_STAFF, None))
        insert_act(session, case, key, item, act_id, source=source,
                   source_submission_id=source_submission_id)
    session.flush()
    _link_chain(session, acts)


def insert_act(session: Session, case: Case, key: DataKey, item: s.Act, act_id: uuid.UUID, *,
               source: str, source_submission_id: uuid.UUID | None) -> None:
    """One act with its detail sections and involvements (its victim is checked by the
    caller)."""
    cid = case.id
    session.add(CaseAct(
        id=act_id, case_id=cid, victim_id=item.victim_id, act_type=item.act_type,
        start_month=item.start_month, end_month=item.end_month,
        date_precision=item.date_precision, region=item.region, facility=item.facility,
        status_at_end=item.status_at_end, chain_link=item.chain_link, source=source,
        source_submission_id=source_submission_id,
        sealed=_seal(key, cid, "case_act", act_id, item.private),
    ))
    session.flush()
    if item.detention is not None:
        _add_detail(session, key, cid, act_id, CaseDetention, item.detention)
    if item.torture is not None:
        _add_detail(session, key, cid, act_id, CaseTorture, item.torture)
    if (g := item.disappearance) is not None:
        # Computed here, never taken from the document (the field is read-only).
        _add_detail(session, key, cid, act_id, CaseDisappearance, g,
                    wgeid_urgent=wgeid_urgent(g, case.received_on))
    roles = _person_roles(session, cid) if (
        item.witness_ids or any(i.person_id for i in item.perpetrators)) else {}
    for n, inv in enumerate(item.perpetrators):
        if inv.person_id is not None and roles.get(inv.person_id) != "perpetrator":
            raise InvalidInput("An involvement names a person who is not a perpetrator of "
                               "this case.", details={"path": f"perpetrators[{n}].person_id"})
        inv_id = inv.id or uuid.uuid4()
        session.add(CaseInvolvement(
            id=inv_id, case_id=cid, act_id=act_id, perpetrator_type=inv.perpetrator_type,
            degree=inv.degree, person_id=inv.person_id,
            sealed=_seal(key, cid, "case_involvement", inv_id, inv.private),
        ))
    for n, pid in enumerate(dict.fromkeys(item.witness_ids)):
        if pid not in roles:
            raise InvalidInput("A witness is not a person of this case.",
                               details={"path": f"witness_ids[{n}]"})
        session.add(CaseWitness(act_id=act_id, person_id=pid, case_id=cid))
    if item.torture is not None:
        _add_istanbul(session, key, cid, act_id, item.torture)


def write_person(session: Session, case: Case, key: DataKey, item: s.Person,
                 row: CasePerson | None = None, *, source: str,
                 source_submission_id: uuid.UUID | None) -> CasePerson:
    """Insert a person (``row`` None) or overwrite ``row`` with ``item``: coarse columns,
    sealed private part and characteristics codes (added; the caller flushes)."""
    if row is None:
        row = CasePerson(id=uuid.uuid4(), case_id=case.id, role=item.role, sealed=b"")
        session.add(row)
    else:
        session.execute(delete(CaseCode).where(
            col(CaseCode.subject_id) == row.id, col(CaseCode.vocab) == "victim_characteristic"))
        session.execute(delete(CaseDesignation).where(
            col(CaseDesignation.person_id) == row.id))
    _check_perpetrator_fields(item, "person")
    _set_person(row, key, case.id, item)
    row.source, row.source_submission_id = source, source_submission_id
    _add_codes(session, case.id, row.id, "victim_characteristic", item.characteristics)
    _add_designations(session, case.id, row.id, item.designations)
    return row


_Detail = CaseDetention | CaseTorture | CaseDisappearance
# The coded lists of an act's detail sections: stored as case_code rows, under these
# vocabularies, rather than as columns of the section's row.
_DETAIL_CODES: dict[type[_Detail], dict[str, str]] = {
    CaseDetention: {"legal_basis": "legal_basis", "wgad_categories": "wgad_category"},
    CaseTorture: {"methods": "torture_method", "intents": "intent", "body_areas": "body_area",
                  "positions": "ip_position", "objects": "ip_object",
                  "psych_sequelae": "psych_sequela"},
    CaseDisappearance: {},
}


# Fields of a detail section stored in tables of their own (see _add_istanbul).
_ROWS_OF_THEIR_OWN = {"method_details", "evidence"}


def _add_detail(session: Session, key: DataKey, case_id: uuid.UUID, act_id: uuid.UUID,
                model: type[_Detail], section: s.Detention | s.Torture | s.Disappearance,
                **computed: object) -> None:
    """An act's detail row: the section's plain fields are the row's columns (of the same
    names), its private part is sealed, its coded lists go to case_code."""
    table = str(model.__tablename__)
    coded = _DETAIL_CODES[model]
    columns = {name: getattr(section, name) for name in type(section).model_fields
               if name != "private" and name not in coded and name not in _ROWS_OF_THEIR_OWN}
    session.add(model(act_id=act_id, case_id=case_id, **{**columns, **computed},
                      sealed=_seal(key, case_id, table, act_id, section.private)))
    for field, vocab in coded.items():
        _add_codes(session, case_id, act_id, vocab, getattr(section, field))


# ---------------------------------------------------------------- HURIDOCS model, completed
# Information, relationships, witnesses, chains and the Istanbul Protocol rows (issue 17).


class _ActExtras:
    """Rows of an act kept in tables of their own, by act id (one query per table)."""

    def __init__(self) -> None:
        self.witnesses: dict[uuid.UUID, list[uuid.UUID]] = {}
        self.methods: dict[uuid.UUID, list[s.MethodDetail]] = {}
        self.evidence: dict[uuid.UUID, list[s.Evidence]] = {}


def _load_act_extras(session: Session, key: DataKey, cid: uuid.UUID) -> _ActExtras:
    out = _ActExtras()
    for w in session.exec(select(CaseWitness).where(CaseWitness.case_id == cid)
                          .order_by(col(CaseWitness.person_id))):
        out.witnesses.setdefault(w.act_id, []).append(w.person_id)
    for m in session.exec(select(CaseTortureMethod).where(CaseTortureMethod.case_id == cid)
                          .order_by(col(CaseTortureMethod.method))):
        out.methods.setdefault(m.act_id, []).append(s.MethodDetail.model_construct(
            method=m.method, duration=m.duration, frequency=m.frequency))
    for e in session.exec(select(CaseEvidence).where(CaseEvidence.case_id == cid)
                          .order_by(col(CaseEvidence.id))):
        out.evidence.setdefault(e.act_id, []).append(s.Evidence.model_construct(
            attachment_id=e.attachment_id, body_area=e.body_area,
            private=_open(key, cid, "case_evidence", e.id, e.sealed, s.EvidencePrivate)))
    return out


def _load_relationships(session: Session, cid: uuid.UUID) -> list[s.Relationship]:
    return [
        s.Relationship.model_construct(id=r.id, person_id=r.person_id,
                                       relationship_type=r.relationship_type,
                                       related_person_id=r.related_person_id)
        for r in session.exec(select(CaseRelationship).where(CaseRelationship.case_id == cid)
                              .order_by(col(CaseRelationship.id)))
    ]


def _load_information(session: Session, key: DataKey, cid: uuid.UUID) -> list[s.Information]:
    return [
        s.Information.model_construct(
            id=i.id, source_person_id=i.source_person_id, act_id=i.act_id,
            source_connection=i.source_connection, reliability=i.reliability,
            material_type=i.material_type,
            private=_open(key, cid, "case_information", i.id, i.sealed, s.InformationPrivate))
        for i in session.exec(select(CaseInformation).where(CaseInformation.case_id == cid)
                              .order_by(col(CaseInformation.id)))
    ]


def _person_roles(session: Session, cid: uuid.UUID) -> dict[uuid.UUID, str]:
    return {pid: role for pid, role in session.exec(
        select(CasePerson.id, CasePerson.role).where(CasePerson.case_id == cid))}


def _check_perpetrator_fields(item: s.Person, path: str) -> None:
    if item.role != "perpetrator" and (item.perpetrator_type or item.perpetrator_ref):
        raise InvalidInput("perpetrator_type and perpetrator_ref are for perpetrators only.",
                           details={"path": f"{path}.role"})


# What may name a person, and how a caseworker would describe it in a refusal.
_NAMES_A_PERSON: tuple[tuple[str, object], ...] = (
    ("a consent record", CaseConsent.person_id),
    ("an act", CaseAct.victim_id),
    ("an involvement", CaseInvolvement.person_id),
    ("an act they witnessed", CaseWitness.person_id),
    ("an information item", CaseInformation.source_person_id),
    ("a relationship", CaseRelationship.person_id),
    ("a relationship", CaseRelationship.related_person_id),
)


def _refuse_removing_named_persons(session: Session, removed: list[uuid.UUID]) -> None:
    for why, column in _NAMES_A_PERSON:
        used = session.exec(select(column).where(col(column).in_(removed))).first()  # type: ignore[call-overload]
        if used is not None:
            raise Conflict(
                f"A person you left out is still referred to by {why}; keep them in the list "
                "(consents are revoked, never deleted).",
                details={"person_id": str(used)},
            )


def _link_chain(session: Session, acts: list[s.Act]) -> None:
    """Set each act's preceding act once all acts exist; refuse links out of the list and
    cycles (a chain runs one way in time)."""
    ids = [a.id for a in acts]
    before: dict[uuid.UUID, uuid.UUID] = {}
    for index, item in enumerate(acts):
        if item.preceding_act_id is None:
            if item.chain_link is not None:
                raise InvalidInput("chain_link needs a preceding_act_id.",
                                   details={"path": f"acts[{index}].chain_link"})
            continue
        if item.id is None or item.preceding_act_id not in ids or item.preceding_act_id == item.id:
            raise InvalidInput("preceding_act_id must be another act of this case, sent with "
                               "its id in the same list.",
                               details={"path": f"acts[{index}].preceding_act_id"})
        before[item.id] = item.preceding_act_id
    for start in before:
        seen = {start}
        at = before.get(start)
        while at is not None:
            if at in seen:
                raise InvalidInput("The chain of events loops back on itself.",
                                   details={"act_id": str(start)})
            seen.add(at)
            at = before.get(at)
    for act_id, preceding in before.items():
        row = session.get(CaseAct, act_id)
        assert row is not None
        row.preceding_act_id = preceding
    session.flush()


def _add_istanbul(session: Session, key: DataKey, cid: uuid.UUID, act_id: uuid.UUID,
                  torture: s.Torture) -> None:
    """Per-method duration and frequency, and the attachments documenting the act."""
    methods = set(torture.methods)
    seen: set[str] = set()
    for n, d in enumerate(torture.method_details):
        if d.method not in methods or d.method in seen:
            raise InvalidInput("Each method detail names one of the act's methods, once.",
                               details={"path": f"torture.method_details[{n}].method"})
        seen.add(d.method)
        session.add(CaseTortureMethod(act_id=act_id, method=d.method, case_id=cid,
                                      duration=d.duration, frequency=d.frequency))
    if torture.evidence:
        ours = set(session.exec(select(Attachment.id).where(
            Attachment.case_id == cid,
            col(Attachment.id).in_([e.attachment_id for e in torture.evidence]))))
        for n, e in enumerate(torture.evidence):
            if e.attachment_id not in ours:
                raise InvalidInput("An evidence link names an attachment that is not one of "
                                   "this case's.",
                                   details={"path": f"torture.evidence[{n}].attachment_id"})
            row_id = uuid.uuid4()
            session.add(CaseEvidence(
                id=row_id, case_id=cid, act_id=act_id, attachment_id=e.attachment_id,
                body_area=e.body_area,
                sealed=_seal(key, cid, "case_evidence", row_id, e.private)))


def _check_information_acts(session: Session, cid: uuid.UUID) -> None:
    acts = set(session.exec(select(CaseAct.id).where(CaseAct.case_id == cid)))
    for act_id in session.exec(select(CaseInformation.act_id).where(
            CaseInformation.case_id == cid, col(CaseInformation.act_id).is_not(None))):
        if act_id not in acts:
            raise Conflict("An act you left out is still referred to by an information "
                           "item; keep it, or send the information list too.",
                           details={"act_id": str(act_id)})


def _write_information(session: Session, case: Case, key: DataKey,
                       items: list[s.Information]) -> None:
    cid = case.id
    persons = _person_roles(session, cid)
    acts = set(session.exec(select(CaseAct.id).where(CaseAct.case_id == cid)))
    seen: set[uuid.UUID] = set()
    for n, item in enumerate(items):
        if item.source_person_id is not None and item.source_person_id not in persons:
            raise InvalidInput("An information item's source is not a person of this case.",
                               details={"path": f"information[{n}].source_person_id"})
        if item.act_id is not None and item.act_id not in acts:
            raise InvalidInput("An information item names an act that is not of this case.",
                               details={"path": f"information[{n}].act_id"})
        row_id = item.id or uuid.uuid4()
        if row_id in seen:
            raise InvalidInput("The same information id appears twice.",
                               details={"path": f"information[{n}].id"})
        seen.add(row_id)
        session.add(CaseInformation(
            id=row_id, case_id=cid, source_person_id=item.source_person_id,
            act_id=item.act_id, source_connection=item.source_connection,
            reliability=item.reliability, material_type=item.material_type,
            sealed=_seal(key, cid, "case_information", row_id, item.private)))
    session.flush()


def _write_relationships(session: Session, case: Case, items: list[s.Relationship]) -> None:
    persons = _person_roles(session, case.id)
    seen: set[uuid.UUID] = set()
    for n, item in enumerate(items):
        for field in ("person_id", "related_person_id"):
            if getattr(item, field) not in persons:
                raise InvalidInput("A relationship names someone who is not a person of "
                                   "this case.", details={"path": f"relationships[{n}].{field}"})
        if item.person_id == item.related_person_id:
            raise InvalidInput("A relationship links two different persons.",
                               details={"path": f"relationships[{n}].related_person_id"})
        row_id = item.id or uuid.uuid4()
        if row_id in seen:
            raise InvalidInput("The same relationship id appears twice.",
                               details={"path": f"relationships[{n}].id"})
        seen.add(row_id)
        session.add(CaseRelationship(id=row_id, case_id=case.id, person_id=item.person_id,
                                     related_person_id=item.related_person_id,
                                     relationship_type=item.relationship_type))
    session.flush()


def perpetrator_cases(session: Session, ref: uuid.UUID,
                      readable: ColumnElement[bool]) -> list[uuid.UUID]:
    """Ids of the cases, among those ``readable`` selects, with a perpetrator person
    carrying ``ref``: the cross-case follow-up works on the opaque reference alone."""
    return list(session.exec(
        select(CasePerson.case_id).join(Case, col(Case.id) == CasePerson.case_id)
        .where(CasePerson.perpetrator_ref == ref, CasePerson.role == "perpetrator", readable)
        .distinct().order_by(col(CasePerson.case_id))))


# ---------------------------------------------------------------- urgency

def _last_seen(g: s.Disappearance) -> date | None:
    text = g.private.last_seen_date
    if text and len(text) == 10:
        return date.fromisoformat(text)
    month = (text[:7] if text and len(text) >= 7 else None) or g.last_seen_month
    if month:
        # Only the month is known: take its last day, so a borderline case counts as urgent.
        year, mon = int(month[:4]), int(month[5:7])
        return date(year, mon, monthrange(year, mon)[1])
    return None


def wgeid_urgent(g: s.Disappearance, received_on: date) -> bool:
    """Reported within 90 days of the disappearance and the person is still missing."""
    if g.current_status not in (None, *STILL_MISSING):
        return False
    seen = _last_seen(g)
    if seen is None:
        return False
    return timedelta(0) <= received_on - seen <= timedelta(days=WGEID_URGENT_DAYS)


def derived_urgency(session: Session, case_id: uuid.UUID) -> set[str]:
    reasons: set[str] = set()
    ongoing = list(session.exec(
        select(CaseDetention, CaseAct.victim_id)
        .join(CaseAct, col(CaseAct.id) == CaseDetention.act_id)
        .where(CaseDetention.case_id == case_id, col(CaseDetention.ongoing).is_(True))
    ))
    if ongoing:
        reasons.add(ONGOING_DETENTION)
        held = {victim for _, victim in ongoing}
        tortured = set(session.exec(
            select(CaseAct.victim_id).join(CaseTorture, col(CaseTorture.act_id) == CaseAct.id)
            .where(CaseAct.case_id == case_id)
        ))
        incommunicado = any(
            d.counsel_access == "denied" or d.whereabouts in NOT_DISCLOSED_WHEREABOUTS
            for d, _ in ongoing
        )
        if held & tortured or incommunicado:
            reasons.add(TORTURE_RISK)
    urgent_dis = session.exec(select(CaseDisappearance.act_id).where(
        CaseDisappearance.case_id == case_id, col(CaseDisappearance.wgeid_urgent).is_(True)
    )).first()
    if urgent_dis is not None:
        reasons.add(WGEID_URGENT)
    return reasons
