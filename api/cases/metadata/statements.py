"""What a submitter stated in a report, written into the case metadata as intake statements.

A report (:mod:`api.intake.statements` turns it into :class:`Statements`) names persons,
acts with their dates and places, and the consents given. They are written here as the
case's own metadata rows with source ``intake`` and the submission they came from, so
statistics and referral gating see them without anyone typing them again, and the
detail shows each as "as reported at intake, <day>" until a caseworker confirms or
corrects it (:class:`~api.cases.metadata.document.Provenance`, :mod:`.consent`).
Identifying fields go to the sealed part of each row under the case key, coarse coding
(act type, oblast, month and precision, facility type, sex, age band) to its columns,
exactly as a caseworker's own edit would store them.

Persons are not duplicated when a follow-up (or a second report in the case) names them
again. A stated person is the same as a person already in the case when both have the same
role and the same name (compared case-, space- and accent-width-insensitively, NFKC); an
unnamed stated person is the same as an existing person whose every stated field is equal.
A match is not added again: while the existing person is still unconfirmed (intake), the
fields it lacks are filled from the new statement (never overwritten); a person staff have
confirmed or written is never changed by a report. Likewise an act is not added again when
its victim already has an act of the same type starting in the same month.

A merge carries the source case's unconfirmed intake statements into the target
(:func:`carry_over`), under the same rules: they belong to the reports, whose threads move.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from api.cases.metadata import consent, store
from api.cases.metadata import document as s
from api.cases.models import SOURCE_INTAKE, Case, CaseAct, CaseConsent, CasePerson
from crypto.keys import DataKey


@dataclass(frozen=True)
class StatedAct:
    """An act of the person at ``victim`` (an index into :attr:`Statements.persons`);
    ``act.victim_id`` is set when it is written."""

    victim: int
    act: s.Act


@dataclass(frozen=True)
class StatedConsent:
    person: int  # index into Statements.persons
    scope: str
    on_behalf: bool  # given by the submitter for this person (a relative, a lawyer)


@dataclass
class Statements:
    persons: list[s.Person] = field(default_factory=list)
    acts: list[StatedAct] = field(default_factory=list)
    consents: list[StatedConsent] = field(default_factory=list)


@dataclass(frozen=True)
class Written:
    person_ids: list[uuid.UUID]  # one per stated person, in order (existing ones reused)
    new_persons: int
    acts: int
    consents: int


def _name_key(name: str | None) -> str | None:
    if not name:
        return None
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split()) or None


def _same(stated: s.Person, existing: s.Person) -> bool:
    if stated.role != existing.role:
        return False
    named = _name_key(stated.private.name)
    if named is not None:
        return named == _name_key(existing.private.name)
    if _name_key(existing.private.name) is not None:
        return False
    keys = ("sex", "age_band", "citizenship")
    return (all(getattr(stated, k) == getattr(existing, k) for k in keys)
            and stated.private == existing.private)


def _filled(existing: s.Person, stated: s.Person) -> s.Person | None:
    """``existing`` with the fields it lacks taken from ``stated``; None if nothing new."""
    coarse = {k: getattr(stated, k) for k in ("sex", "age_band", "citizenship")
              if getattr(existing, k) is None and getattr(stated, k) is not None}
    private = {k: v for k, v in stated.private.model_dump().items()
               if v not in (None, []) and getattr(existing.private, k) in (None, [])}
    if not coarse and not private:
        return None
    return existing.model_copy(update={
        **coarse, "private": existing.private.model_copy(update=private)})


def add(session: Session, case: Case, key: DataKey, submission_id: uuid.UUID,
        statements: Statements, *, new_case: bool = False) -> Written:
    """Write ``statements`` of submission ``submission_id`` into ``case`` (flush only).

    ``new_case``: the case was created in this transaction, so it has no metadata to match
    or consents to version yet, and nothing is read (intake's hot path)."""
    if new_case:
        before = s.Metadata(summary=s.Summary(), persons=[], acts=[], interventions=[])
        rows: dict[uuid.UUID, CasePerson] = {}
    else:
        before = store.load_metadata(session, case, key)
        rows = {r.id: r for r in session.exec(select(CasePerson).where(
            CasePerson.case_id == case.id))}
    existing = before.persons
    ids: list[uuid.UUID] = []
    new = 0
    for stated in statements.persons:
        match = next((p for p in existing if p.id is not None and p.id not in ids
                      and _same(stated, p)), None)
        if match is None:
            row = store.write_person(session, case, key, stated, source=SOURCE_INTAKE,
                                     source_submission_id=submission_id)
            existing.append(stated.model_copy(update={"id": row.id}))
            ids.append(row.id)
            new += 1
            continue
        assert match.id is not None
        ids.append(match.id)
        row = rows[match.id]
        if row.source == SOURCE_INTAKE and (filled := _filled(match, stated)) is not None:
            # Still the submitters' own statement: complete it, keep its first report.
            store.write_person(session, case, key, filled, row, source=SOURCE_INTAKE,
                               source_submission_id=row.source_submission_id)
    session.flush()  # the persons before the acts and consents naming them
    known = {(a.victim_id, a.act_type, a.start_month) for a in before.acts}
    acts = 0
    for stated_act in statements.acts:
        act = stated_act.act.model_copy(update={"victim_id": ids[stated_act.victim]})
        if (act.victim_id, act.act_type, act.start_month) in known:
            continue
        known.add((act.victim_id, act.act_type, act.start_month))
        store.insert_act(session, case, key, act, uuid.uuid4(), source=SOURCE_INTAKE,
                         source_submission_id=submission_id)
        acts += 1
    given = 0
    for c in statements.consents:
        if consent.record_intake(session, case, ids[c.person], c.scope, submission_id,
                                 on_behalf=c.on_behalf, first=new_case) is not None:
            given += 1
    session.flush()
    return Written(ids, new, acts, given)


def carry_over(session: Session, source: Case, source_key: DataKey, target: Case,
               target_key: DataKey) -> int:
    """Copy ``source``'s intake statements still unconfirmed (persons, their acts, their
    active intake consents) into ``target``, report by report; returns the items added.
    Staff-written or confirmed metadata stays with the source, as before."""
    meta = store.load_metadata(session, source, source_key)
    consents = [c for c in consent.active(session, source.id) if c.source == SOURCE_INTAKE]
    reports: dict[uuid.UUID, Statements] = {}
    index: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for p in meta.persons:
        origin = p.provenance
        if origin is None or origin.source != SOURCE_INTAKE or origin.submission_id is None:
            continue
        group = reports.setdefault(origin.submission_id, Statements())
        assert p.id is not None
        index[(origin.submission_id, p.id)] = len(group.persons)
        group.persons.append(p.model_copy(update={"id": None, "provenance": None}))
    for a in meta.acts:
        origin = a.provenance
        if origin is None or origin.source != SOURCE_INTAKE or origin.submission_id is None:
            continue
        at = index.get((origin.submission_id, a.victim_id))
        if at is not None:  # an act of a person this report named
            reports[origin.submission_id].acts.append(StatedAct(at, a.model_copy(update={
                "id": None, "provenance": None, "perpetrators": [
                    i.model_copy(update={"id": None}) for i in a.perpetrators]})))
    for c in consents:
        if c.source_submission_id is not None and (
                at := index.get((c.source_submission_id, c.person_id))) is not None:
            reports[c.source_submission_id].consents.append(
                StatedConsent(at, c.scope, on_behalf=c.on_behalf))
    added = 0
    for submission_id, statements in reports.items():
        written = add(session, target, target_key, submission_id, statements)
        added += written.new_persons + written.acts + written.consents
    return added


def cases_without_statements(session: Session, case_ids: list[uuid.UUID] | None = None
                             ) -> list[Case]:
    """Live cases (not merged into another, not shredded) with no intake statement yet:
    the cases received before statements existed (``dokaz intake backfill-statements``)."""
    stmt = select(Case).where(col(Case.merged_into_id).is_(None),
                              col(Case.shredded_at).is_(None)).order_by(col(Case.id))
    if case_ids is not None:
        stmt = stmt.where(col(Case.id).in_(case_ids))
    with_statements: set[uuid.UUID] = set()
    for model in (CasePerson, CaseAct, CaseConsent):
        with_statements |= set(session.exec(select(model.case_id).where(
            col(model.source) == SOURCE_INTAKE).distinct()))
    return [c for c in session.exec(stmt) if c.id not in with_statements]
