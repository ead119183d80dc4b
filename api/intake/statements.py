"""A report's statements in the case metadata's terms (written by
:mod:`api.cases.metadata.statements`).

Who is who:

* The **submitter** is a person of the case. Reporting as the victim, they are the first
  victim the report names (or, if it names none, a victim of their own, with their name and
  contact); otherwise a person with their role (a relative, witness or lawyer; "other" is a
  ``source``), holding their name, contact and stated relationship.
* Every person the report names is a person of the case with their role (an intake
  "other" is a ``witness``). If the report names no victim and the submitter is not one, an
  unnamed victim stands for the person the report is about, so its acts have a victim.
* Each act category is an act of each victim, with the report's start month and precision
  (a year alone is ``YYYY-01``, ``unknown_month_day``), end month, oblast, and sealed exact
  dates and place. A detention carries the facility type and whether it is ongoing (a
  person still detained, or an ongoing period); a disappearance the month and oblast last
  seen, the exact date and place sealed, and "still missing" when the report says the
  person's whereabouts are unknown or the events are ongoing.

Consent: the scopes the report grants (sharing with the UN covers each UN mechanism, as the
form explains it) are the submitter's own consent. A relative or lawyer also gives them for
each victim, marked ``on_behalf``: referral gating accepts that (the WGEID acts on a
family's consent), statistics do not (they count a person's own consent only). A witness
or "other" submitter consents for themselves only.
"""

from __future__ import annotations

import re
import uuid

from api.cases.metadata import document as doc
from api.cases.metadata.statements import StatedAct, StatedConsent, Statements
from api.intake import coding
from api.intake.schemas import FollowupIn, Person, SubmissionIn
from api.vocab.registry import get_vocabulary

PERSON_ROLES: dict[str, doc.PersonRole] = {
    "victim": "victim", "relative": "relative", "witness": "witness",
    "perpetrator": "perpetrator", "lawyer": "lawyer", "other": "witness",
}
SUBMITTER_ROLES: dict[str, doc.PersonRole] = {
    "victim": "victim", "relative": "relative", "witness": "witness", "lawyer": "lawyer",
    "other": "source",
}
# Submitters who may consent for the victims they report about.
PROXY_ROLES = frozenset({"relative", "lawyer"})
# Set to the victim's person id when the act is written (StatedAct.victim says which).
_UNSET_VICTIM = uuid.UUID(int=0)
_ISO_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
# The metadata's text limits (document.Short, document.Long). A report may hold longer
# text; the whole of it stays in the sealed submission, shown with the case.
_SHORT = 500
_LONG = 50_000


def _short(value: str | None) -> str | None:
    return value[:_SHORT] if value else None


def _long(value: str | None) -> str | None:
    return value[:_LONG] if value else None


def _private(p: Person) -> doc.PersonPrivate:
    description = p.description
    birth = p.date_of_birth if p.date_of_birth and _ISO_DATE.fullmatch(p.date_of_birth) else None
    if p.date_of_birth and birth is None:
        # Not a date the metadata can hold: kept, in the person's words, with the rest.
        description = "\n".join(x for x in (f"Date of birth: {p.date_of_birth}", description)
                                if x)
    return doc.PersonPrivate(
        name=p.name, other_names=[p.other_names] if p.other_names else [], birth_date=birth,
        id_number=p.id_number, address=p.address, phone=p.phone, email=p.email,
        description=_long(description), health=_long(p.health))


def _person(p: Person) -> doc.Person:
    return doc.Person(role=PERSON_ROLES[p.role], sex=p.sex, age_band=p.age_band,
                      citizenship=p.citizenship, private=_private(p))


def _scopes(granted: list[str]) -> list[str]:
    children = {t.code: t.parent for t in get_vocabulary("consent_scope").terms
                if not t.deprecated}
    out = [s for s in children if s in granted or children[s] in granted]
    return out


def _acts(data: SubmissionIn, victim: Person | None) -> list[doc.Act]:
    month, precision = coding.period_start(data)
    when = data.when
    end_month = when.end[:7] if when is not None and when.end and len(when.end) >= 7 else None
    ongoing = bool(when is not None and when.ongoing)
    private = doc.ActPrivate(location=_short(data.where.details),
                             start_date=when.start if when else None,
                             end_date=when.end if when else None)
    out: list[doc.Act] = []
    for category in data.acts:
        act = doc.Act.model_construct(
            id=None, victim_id=_UNSET_VICTIM, act_type=category, start_month=month,
            end_month=end_month, date_precision=precision, region=data.where.region,
            status_at_end=None, private=private, detention=None, torture=None, disappearance=None,
            perpetrators=[], provenance=None)
        if category == "detention":
            act.detention = doc.Detention(
                facility_type=data.where.facility_type,
                ongoing=ongoing or bool(victim is not None and victim.still_detained))
        elif category == "torture":
            act.torture = doc.Torture()
        elif category == "disappearance":
            missing = ongoing or bool(victim is not None and victim.whereabouts_unknown)
            act.disappearance = doc.Disappearance(
                last_seen_month=month, region=data.where.region,
                current_status="still_missing" if missing else None,
                private=doc.DisappearancePrivate(
                    last_seen_date=when.start if when else None,
                    last_seen_place=_short(data.where.details)))
        out.append(act)
    return out


def of_submission(data: SubmissionIn) -> Statements:
    out = Statements()
    reporter = data.reporter
    victims = [p for p in data.persons if p.role == "victim"]
    submitter: int | None = None
    for p in data.persons:
        out.persons.append(_person(p))
        if submitter is None and reporter.role == "victim" and p.role == "victim":
            # The submitter reporting as the victim is the victim the report names first.
            submitter = len(out.persons) - 1
            me = out.persons[submitter].private
            out.persons[submitter].private = me.model_copy(update={
                "name": me.name or reporter.name, "contact": reporter.contact})
    if submitter is None:
        out.persons.append(doc.Person(
            role=SUBMITTER_ROLES[reporter.role],
            private=doc.PersonPrivate(name=reporter.name, contact=reporter.contact,
                                      relationship=reporter.relationship)))
        submitter = len(out.persons) - 1
    victim_ids = [i for i, p in enumerate(out.persons) if p.role == "victim"]
    if not victim_ids:
        out.persons.append(doc.Person(role="victim"))
        victim_ids = [len(out.persons) - 1]
    stated_victims: list[Person | None] = [*victims, *[None] * len(victim_ids)]
    for n, index in enumerate(victim_ids):
        out.acts += [StatedAct(index, act) for act in _acts(data, stated_victims[n])]
    scopes = _scopes(data.granted_scopes)
    out.consents += [StatedConsent(submitter, scope, on_behalf=False) for scope in scopes]
    if reporter.role in PROXY_ROLES:
        out.consents += [StatedConsent(i, scope, on_behalf=True)
                         for i in victim_ids if i != submitter for scope in scopes]
    return out


def of_followup(data: FollowupIn) -> Statements:
    """A follow-up addition names persons only (no acts, no consent)."""
    return Statements(persons=[_person(p) for p in data.persons])
