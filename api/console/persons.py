"""The console's coding editor for the persons of a case, and the case's consents.

A person is saved like an act (api/console/coding.py): the case's persons go through the
same metadata edit as the API's PATCH (``api.cases.service.edit_metadata``) with the
version the form was opened at, every coded field is a choice from its vocabulary, the
fields the form does not show are kept as stored, and a colleague's save in between comes
back next to one's own instead of being overwritten. Saving a person the submitter
described at intake confirms it as the caseworker's (its intake provenance is dropped).
Removing a person is the same edit without them: the service refuses while an act, a
consent or a relationship still names them, and the one error handler shows why. The
relationships between persons are edited the same way, as rows of one form.

Consents are recorded and revoked through the API's own functions
(``api.cases.metadata.consent``); the case page shows what each one unlocks, from the
scopes the referral drafts and the partner statistics ask for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.cases import service as cases_service
from api.cases.metadata import consent
from api.cases.metadata.document import MetadataPatch, Person
from api.cases.metadata.schemas import ConsentIn, ConsentOut
from api.cases.referrals import drafts
from api.cases.schemas import CaseDetail
from api.console import editing, pages
from api.console.dependencies import CaseStaff, Form, PostedForm, SignedIn, check_csrf
from api.console.i18n import N_
from api.core.db import commit_before_rendering
from api.core.dependencies import Config, DbSession
from api.core.errors import InvalidInput, NotFound
from api.stats.repository import CONSENT_SCOPE as STATS_SCOPE

routes = APIRouter()  # included in the console router, under /staff

# Form field -> its vocabulary (one choice each).
CHOICES = {"sex": "sex", "age_band": "age_band", "citizenship": "country",
           "residence_country": "country", "perpetrator_type": "perpetrator_type"}
# Countries: the vocabulary's codes are lower case, the document's ISO codes upper case.
COUNTRIES = ("citizenship", "residence_country")
# The sealed parts shown as text (one line each; ``LONG`` ones as a text area).
SHORT = ("name", "id_number", "address", "phone", "email", "occupation", "contact",
         "relationship")
LONG = ("description", "health")
EMPTY_DESIGNATION_ROWS = 2  # blank rows under the stored ones, for a new designation
MAX_DESIGNATIONS = 10  # as the document allows

LABELS = {
    "person": N_("the person"),
    "role": N_("Role in the case"),
    "sex": N_("Sex"),
    "age_band": N_("Age"),
    "citizenship": N_("Citizenship"),
    "residence_country": N_("Lives now in"),
    "characteristics": N_("Characteristics"),
    "recognised_by": N_("Recognised as a political prisoner by"),
    "recognised_month": N_("Recognised since (month)"),
    "designations": N_("Put on an authorities' list"),
    "list_type": N_("List"),
    "month": N_("Since (month)"),
    "perpetrator_type": N_("Kind of force (alleged perpetrators only)"),
    "name": N_("Full name"),
    "other_names": N_("Other names and spellings, one per line"),
    "birth_date": N_("Birth date (year, year-month or full date)"),
    "id_number": N_("Identity document number"),
    "address": N_("Address"),
    "phone": N_("Phone"),
    "email": N_("Email"),
    "occupation": N_("Occupation"),
    "contact": N_("How to reach them"),
    "relationship": N_("Their tie to the events"),
    "description": N_("Description"),
    "health": N_("Health"),
}
# The fields a conflict view compares, in the form's order.
COMPARED = ("role", "sex", "age_band", "citizenship", "residence_country",
            "perpetrator_type", "characteristics", "name", "birth_date", "description")
SAVED = N_("The person is saved.")
REMOVED = N_("The person is removed from the case.")
CONSENT_GIVEN = N_("The consent is recorded.")
CONSENT_REVOKED = N_("The consent is revoked.")


def _person(detail: CaseDetail, person_id: uuid.UUID | None) -> Person | None:
    if person_id is None:
        return None
    for person in detail.metadata.persons:
        if person.id == person_id:
            return person
    raise NotFound("This case has no such person.")


def person_from_form(form: PostedForm, stored: Person | None) -> dict[str, Any]:
    """The person as the form says, over what is stored (fields the form lacks are kept).

    The intake provenance is dropped: what a caseworker saves is theirs, confirmed or
    corrected (see api.cases.metadata.document.Provenance)."""
    person: dict[str, Any] = stored.model_dump(mode="json") if stored else {}
    person.pop("provenance", None)

    def value(name: str) -> str | None:
        return form.get(name).strip() or None

    person["role"] = value("role")
    for name in CHOICES:
        person[name] = value(name)
    for name in COUNTRIES:
        person[name] = person[name].upper() if person[name] else None
    person["characteristics"] = [v for v in form.all("characteristics") if v]
    recogniser = value("recognised_by")
    person["political_prisoner"] = None if recogniser is None else {
        "recognised_by": recogniser, "month": value("recognised_month")}
    rows = zip(form.all("list_type"), form.all("list_month"), strict=False)
    person["designations"] = [{"list_type": kind.strip(), "month": month.strip() or None}
                              for kind, month in rows if kind.strip()]
    private = dict(person.get("private") or {})
    for name in (*SHORT, *LONG, "birth_date"):
        private[name] = value(name)
    private["other_names"] = [line.strip() for line in form.get("other_names").splitlines()
                              if line.strip()]
    person["private"] = private
    return person


def _errors(exc: ValidationError) -> list[str]:
    """Which fields of the form are wrong (names of the form's own fields, no input)."""
    out = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
        if "political_prisoner" in loc:
            out.append("recognised_month" if "month" in loc else "recognised_by")
            continue
        if "designations" in loc:
            out.append("designations")
            continue
        field = next((p for p in reversed(loc) if p in LABELS), "person")
        out.append(field)
    return sorted(set(out))


def _page(signed: pages.Signed, detail: CaseDetail, person: dict[str, Any] | None, *,
          status_code: int = 200, errors: list[str] | None = None,
          theirs: dict[str, Any] | None = None, problem: str = "") -> Response:
    person = person or {}
    rows = list(person.get("designations") or [])
    blank = min(EMPTY_DESIGNATION_ROWS, MAX_DESIGNATIONS - len(rows))
    return pages.render(
        "person.html", signed.lang, status_code=status_code, signed=signed, case=detail,
        person=person, designation_rows=rows + [{}] * max(blank, 0), errors=errors or [],
        problem=problem, theirs=theirs, choices=CHOICES, countries=COUNTRIES, short_fields=SHORT,
        long_fields=LONG, compared=COMPARED, person_labels=LABELS,
        title=pages.gettext(signed.lang, N_("A person of the case")))


@routes.get("/cases/{case_id}/persons/new")
def new_person(case_id: uuid.UUID, signed: SignedIn, me: CaseStaff, db: DbSession) -> Response:
    detail = cases_service.detail(db, me, case_id)
    commit_before_rendering(db)
    return _page(signed, detail, None)


@routes.get("/cases/{case_id}/persons/{person_id}")
def edit_person(case_id: uuid.UUID, person_id: uuid.UUID, signed: SignedIn, me: CaseStaff,
                db: DbSession) -> Response:
    detail = cases_service.detail(db, me, case_id)
    person = _person(detail, person_id)
    commit_before_rendering(db)
    return _page(signed, detail, person.model_dump(mode="json") if person else None)


@routes.post("/cases/{case_id}/persons")
def save_new_person(request: Request, case_id: uuid.UUID, signed: SignedIn, me: CaseStaff,
                    form: Form, db: DbSession, settings: Config) -> Response:
    return _save(request, case_id, None, signed, me, form, db, settings)


@routes.post("/cases/{case_id}/persons/{person_id}")
def save_person(request: Request, case_id: uuid.UUID, person_id: uuid.UUID, signed: SignedIn,
                me: CaseStaff, form: Form, db: DbSession, settings: Config) -> Response:
    return _save(request, case_id, person_id, signed, me, form, db, settings)


def _save(request: Request, case_id: uuid.UUID, person_id: uuid.UUID | None,
          signed: pages.Signed, me: Any, form: PostedForm, db: Any, settings: Any) -> Response:
    check_csrf(request, me, form)
    detail = cases_service.detail(db, me, case_id)
    stored = _person(detail, person_id)
    mine = person_from_form(form, stored)
    persons = [p.model_dump(mode="json") for p in detail.metadata.persons if p.id != person_id]
    refused = editing.save_section(db, me, detail, form.get("version"), "persons",
                                   [*persons, mine], settings, fields_of=_errors,
                                   refused_field=_refused_field)
    if refused is not None:
        if refused.problem:
            # The service's own refusal (a kind of force for someone who is no
            # perpetrator), shown on the form with what was sent; the case is read again
            # so that the page is an audited read like any other.
            detail = cases_service.detail(db, me, case_id)
        commit_before_rendering(db)  # the read of the case stays audited; nothing changed
        if refused.status_code == 409:  # a colleague saved first: show both
            return _page(signed, detail, mine, status_code=409,
                         theirs=stored.model_dump(mode="json") if stored else {})
        return _page(signed, detail, mine, status_code=422, errors=refused.errors,
                     problem=refused.problem)
    return RedirectResponse(f"/staff/cases/{case_id}?done=person_saved", status_code=303)


def _refused_field(exc: InvalidInput) -> str:
    """The form's field a refusal of the service is about (``persons[3].role``: the kind
    of force, which only a perpetrator may have)."""
    field = str(exc.details.get("path", "")).rsplit(".", 1)[-1]
    return "perpetrator_type" if field == "role" else field if field in LABELS else "person"


@routes.post("/cases/{case_id}/persons/{person_id}/remove")
def remove_person(request: Request, case_id: uuid.UUID, person_id: uuid.UUID,
                  signed: SignedIn, me: CaseStaff, form: Form, db: DbSession,
                  settings: Config) -> Response:
    """The case's persons without this one; the service refuses (409, naming what still
    refers to them) while an act, a consent or a relationship names them. (``signed``:
    a refusal is a page in the account's language.)"""
    check_csrf(request, me, form)
    detail = cases_service.detail(db, me, case_id)
    _person(detail, person_id)
    persons = [p.model_dump(mode="json") for p in detail.metadata.persons if p.id != person_id]
    patch = MetadataPatch.model_validate({"persons": persons})
    cases_service.edit_metadata(db, me, case_id, patch, form.version(), settings)
    return RedirectResponse(f"/staff/cases/{case_id}?done=person_removed", status_code=303)


# ---- relationships between persons: rows of person - type - person ----

EMPTY_RELATIONSHIP_ROWS = 3
RELATIONSHIPS_SAVED = N_("The relationships are saved.")


def relationships_from_form(form: PostedForm) -> list[dict[str, Any]]:
    """The rows as the form says; a row left blank is no relationship (an incomplete
    one is sent as it is, for the document to refuse)."""
    rows = zip(form.all("rel_id"), form.all("rel_person"), form.all("rel_type"),
               form.all("rel_related"), strict=False)
    out = []
    for row_id, person, kind, related in rows:
        if not (person.strip() or kind.strip() or related.strip()):
            continue
        out.append({"id": row_id.strip() or None, "person_id": person.strip() or None,
                    "relationship_type": kind.strip() or None,
                    "related_person_id": related.strip() or None})
    return out


def _relationships_page(signed: pages.Signed, detail: CaseDetail,
                        rows: list[dict[str, Any]], *, status_code: int = 200,
                        problem: str = "", theirs: list[dict[str, Any]] | None = None
                        ) -> Response:
    return pages.render(
        "relationships.html", signed.lang, status_code=status_code, signed=signed,
        case=detail, rows=rows + [{}] * EMPTY_RELATIONSHIP_ROWS, mine=rows, theirs=theirs,
        problem=problem, title=pages.gettext(signed.lang, N_("Relationships between persons")))


def _stored_relationships(detail: CaseDetail) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in detail.metadata.relationships]


@routes.get("/cases/{case_id}/relationships")
def relationships(case_id: uuid.UUID, signed: SignedIn, me: CaseStaff,
                  db: DbSession) -> Response:
    detail = cases_service.detail(db, me, case_id)
    commit_before_rendering(db)
    return _relationships_page(signed, detail, _stored_relationships(detail))


@routes.post("/cases/{case_id}/relationships")
def save_relationships(request: Request, case_id: uuid.UUID, signed: SignedIn, me: CaseStaff,
                       form: Form, db: DbSession, settings: Config) -> Response:
    """The case's relationships, replaced by the form's rows (the API's PATCH section)."""
    check_csrf(request, me, form)
    detail = cases_service.detail(db, me, case_id)
    mine = relationships_from_form(form)
    refused = editing.save_section(db, me, detail, form.get("version"), "relationships", mine,
                                   settings, refused_field=lambda _exc: "relationships")
    if refused is not None:
        if refused.problem:
            # The service's refusal (someone related to themselves), shown with the rows
            # sent; as for a person above, read again (an audited read).
            detail = cases_service.detail(db, me, case_id)
        commit_before_rendering(db)  # the read of the case stays audited; nothing changed
        if refused.status_code == 409:  # a colleague saved first: show both
            return _relationships_page(signed, detail, mine, status_code=409,
                                       theirs=_stored_relationships(detail))
        return _relationships_page(signed, detail, mine, status_code=422, problem=(
            refused.problem or N_("Each relationship needs a person, how they are related, "
                                  "and the other person.")))
    return RedirectResponse(f"/staff/cases/{case_id}?done=relationships_saved",
                            status_code=303)


# ---- consents ----

@routes.post("/cases/{case_id}/consents")
def give_consent(request: Request, case_id: uuid.UUID, signed: SignedIn, me: CaseStaff,
                 form: Form, db: DbSession, settings: Config) -> Response:
    check_csrf(request, me, form)
    try:
        body = ConsentIn.model_validate({"person_id": form.get("person_id"),
                                         "scope": form.get("scope"),
                                         "note": form.get("note").strip() or None})
    except ValidationError:
        raise InvalidInput("Choose a person of the case and what they consent to.") from None
    # As the API's POST /cases/{id}/consents: the case is locked, then the consent given.
    case, key = cases_service.open_case(db, me, case_id, for_update=True)
    consent.give(db, me, case, key, body, settings)
    return RedirectResponse(f"/staff/cases/{case_id}?done=consent_given#consents-heading",
                            status_code=303)


@routes.post("/cases/{case_id}/consents/{consent_id}/revoke")
def revoke_consent(request: Request, case_id: uuid.UUID, consent_id: uuid.UUID,
                   signed: SignedIn, me: CaseStaff, form: Form, db: DbSession,
                   settings: Config) -> Response:
    check_csrf(request, me, form)
    case, key = cases_service.open_case(db, me, case_id, for_update=True)
    consent.revoke(db, me, case, key, consent_id, settings)
    return RedirectResponse(f"/staff/cases/{case_id}?done=consent_revoked#consents-heading",
                            status_code=303)


# What a consent is for, as the case page says it. Derived from the scopes the referral
# drafts and the statistics ask for, so the page cannot promise what they would refuse.
UNLOCKS = {
    "wgeid": N_("a WGEID referral draft"),
    "wgad": N_("a WGAD referral draft"),
    "stats": N_("counting in the partner statistics"),
}


@dataclass(frozen=True)
class Unlock:
    """For one victim: what ``what`` needs and which of those scopes are still missing."""

    what: str
    missing: tuple[str, ...]


def unlocks(detail: CaseDetail) -> dict[uuid.UUID, list[Unlock]]:
    """For each victim of the case: the drafts and the statistics, each with the scopes of
    consent it still lacks (none: unlocked). Only a person's own consent counts for the
    statistics (api/stats/repository.py); the drafts take one given on their behalf."""
    active: dict[uuid.UUID, list[ConsentOut]] = {}
    for row in detail.consents:
        if row.active:
            active.setdefault(row.person_id, []).append(row)
    out: dict[uuid.UUID, list[Unlock]] = {}
    for person in detail.metadata.persons:
        if person.role != "victim" or person.id is None:
            continue
        rows = active.get(person.id, [])
        scopes = {r.scope for r in rows}
        own = {r.scope for r in rows if not r.on_behalf}
        items = [Unlock(UNLOCKS[mechanism], tuple(sorted(
                     {drafts.SHARE_SCOPE[mechanism], drafts.NAME_SCOPE} - scopes)))
                 for mechanism in ("wgeid", "wgad")]
        items.append(Unlock(UNLOCKS["stats"], () if STATS_SCOPE in own else (STATS_SCOPE,)))
        out[person.id] = items
    return out
