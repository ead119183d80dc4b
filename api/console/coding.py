"""The console's coding editor for acts (the coded facts of one act, with its detention,
torture and disappearance details, its alleged perpetrators and witnesses, as form fields
whose every choice comes from its vocabulary), and the referral drafts those codes fill in.

Saving sends the case's acts through the same metadata edit as the API's PATCH
(``api.cases.service.edit_metadata``), with the version the form was opened at
(api/console/editing.py). A colleague's save in between is not overwritten: the page comes
back with both versions, theirs as stored now and the one just sent, to be merged by the
person who knows why.
The act's perpetrators, a trial's appeals, the domestic remedies tried, the files that
document a torture allegation and the steps taken to find a disappeared person are repeated
rows (each stored one, with a box to remove it, and one empty row to add one); its witnesses
are a box per person of the case, and the chain of events names the act this one follows.
Fields the form does not show (the WGAD category facts, the torture narrative's sealed
parts) are kept as stored.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from sqlmodel import Session

from api.auth.principals import Principal
from api.cases import service as cases_service
from api.cases.metadata.document import Act
from api.cases.referrals import drafts
from api.cases.referrals.catalog import DraftLanguage
from api.cases.referrals.markdown import render_markdown
from api.cases.schemas import CaseDetail
from api.console import editing, pages
from api.console.dependencies import CaseStaff, Form, PostedForm, SignedIn, check_csrf
from api.console.i18n import N_
from api.core.db import commit_before_rendering
from api.core.dependencies import Config, DbSession
from api.core.errors import NotFound
from api.core.settings import Settings

routes = APIRouter()  # included in the console router, under /staff

# Form field -> its vocabulary (coded choices). Names are the document's own, so a refused
# value names the form's field (editing.field_errors).
CHOICES = {"act_type": "act_type", "date_precision": "date_precision", "region": "region",
           "facility": "facility", "status_at_end": "status_at_end"}
DETENTION_CHOICES = {"legal_regime": "detention_regime", "facility_type": "facility_type",
                     "counsel_access": "counsel_access", "court_type": "court_type",
                     "fine_band": "fine_band"}
DETENTION_YES_NO = ("warrant_shown", "special_proceedings", "trial_closed", "trial_video_link")
DETENTION_MANY = {"legal_basis": "legal_basis", "wgad_categories": "wgad_category"}
TORTURE_CHOICES = {"medical_attention": "medical_attention",
                   "statement_signed": "statement_signed", "ip_consistency": "ip_consistency",
                   "examiner_qualification": "examiner_qualification"}
TORTURE_YES_NO = ("medical_examination", "psych_evaluation")
TORTURE_MANY = {"intents": "intent", "body_areas": "body_area", "positions": "ip_position",
                "objects": "ip_object", "psych_sequelae": "psych_sequela"}
# The disappearance's fields are prefixed on the form: the act has a region of its own.
DISAPPEARANCE_CHOICES = {"region": "region", "forces_responsible": "perpetrator_type",
                         "state_acknowledgement": "whereabouts",
                         "current_status": "status_at_end"}
INVOLVEMENT_CHOICES = {"perpetrator_type": "perpetrator_type", "degree": "involvement_degree"}
# Sealed details of the trial that followed a detention (``detention.private.trial``).
TRIAL_FIELDS = ("court", "judge", "case_number", "opened_on", "judgment_on", "counsel",
                "charges", "sentence")
# Repeated rows: the form's prefix -> the row's plain fields and its sealed ones (which go
# under the row's ``private``), as the document names them.
ROWS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "appeals": (("court", "date", "outcome"), ()),
    "remedies": (("remedy", "date", "outcome"), ()),
    "evidence": (("attachment_id", "body_area"), ("note",)),
    "steps": (("type", "date", "description", "addressed_to", "outcome"), ()),
}
SAVED = N_("The act is saved.")


def _act(detail: CaseDetail, act_id: uuid.UUID | None) -> Act | None:
    if act_id is None:
        return None
    for act in detail.metadata.acts:
        if act.id == act_id:
            return act
    raise NotFound("This case has no such act.")


Value = Callable[[str], str | None]  # a form field's text, stripped; None when empty


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def act_from_form(form: PostedForm, stored: Act | None) -> dict[str, Any]:
    """The act as the form says, over what is stored (fields the form lacks are kept)."""
    act: dict[str, Any] = stored.model_dump(mode="json") if stored else {}

    def value(name: str) -> str | None:
        return form.get(name).strip() or None

    act["victim_id"] = value("victim_id")
    for name in CHOICES:
        act[name] = value(name)
    act["preceding_act_id"] = value("preceding_act_id")
    act["chain_link"] = value("chain_link")
    act["start_month"] = value("start_month")
    act["end_month"] = value("end_month")
    act["witness_ids"] = list(dict.fromkeys(v for v in form.all("witness_ids") if v))
    private = dict(act.get("private") or {})
    private["location"] = value("location")
    private["start_date"] = value("start_date")
    act["private"] = private
    act["detention"] = _detention(form, value, act.get("detention"))
    act["torture"] = _torture(form, value, act.get("torture"))
    act["disappearance"] = _disappearance(form, value, act.get("disappearance"))
    act["perpetrators"] = _perpetrators(form, stored)
    return act


def _detention(form: PostedForm, value: Value, stored: dict[str, Any] | None
               ) -> dict[str, Any] | None:
    if form.get("has_detention") != "on":
        return None
    detention = dict(stored or {})
    for name in DETENTION_CHOICES:
        detention[name] = value(name)
    for name in DETENTION_YES_NO:
        detention[name] = _yes_no(form.get(name))
    for name in DETENTION_MANY:
        detention[name] = [v for v in form.all(name) if v]
    detention["ongoing"] = form.get("ongoing") == "on"
    detention["verdict_month"] = value("verdict_month")
    days = value("admin_arrest_days")
    detention["admin_arrest_days"] = int(days) if days and days.isdigit() else days
    private = dict(detention.get("private") or {})
    trial = dict(private.get("trial") or {})
    for name in TRIAL_FIELDS:
        trial[name] = value(f"trial-{name}")
    trial["appeals"] = rows(form, "appeals")
    private["trial"] = trial if any(trial.values()) else None
    private["remedies"] = rows(form, "remedies")
    detention["private"] = private
    return detention


def _torture(form: PostedForm, value: Value, stored: dict[str, Any] | None
             ) -> dict[str, Any] | None:
    if form.get("has_torture") != "on":
        return None
    torture = dict(stored or {})
    for name in TORTURE_CHOICES:
        torture[name] = value(name)
    for name in TORTURE_YES_NO:
        torture[name] = _yes_no(form.get(name))
    for name in TORTURE_MANY:
        torture[name] = [v for v in form.all(name) if v]
    methods = list(dict.fromkeys(v for v in form.all("methods") if v))
    torture["methods"] = methods
    # How long and how often, for a chosen method only (a detail of an unchosen one is
    # what a browser sends for every row of the table, not something said).
    details = []
    for method in methods:
        duration, frequency = value(f"method-{method}-duration"), value(
            f"method-{method}-frequency")
        if duration or frequency:
            details.append({"method": method, "duration": duration, "frequency": frequency})
    torture["method_details"] = details
    if _row_numbers(form, "evidence"):  # the form lists evidence only when it has files
        torture["evidence"] = rows(form, "evidence")
    return torture


def _disappearance(form: PostedForm, value: Value, stored: dict[str, Any] | None
                   ) -> dict[str, Any] | None:
    if form.get("has_disappearance") != "on":
        return None
    disappearance = dict(stored or {})
    disappearance.pop("wgeid_urgent", None)  # computed when stored, never sent
    for name in DISAPPEARANCE_CHOICES:
        disappearance[name] = value(f"disappearance-{name}")
    disappearance["last_seen_month"] = value("last_seen_month")
    private = dict(disappearance.get("private") or {})
    for name in ("last_seen_date", "last_seen_place", "circumstances"):
        private[name] = value(name)
    private["steps_taken"] = rows(form, "steps")
    disappearance["private"] = private
    return disappearance


def _row_numbers(form: PostedForm, prefix: str) -> list[int]:
    pattern = re.compile(rf"^{prefix}-(\d{{1,2}})-")
    return sorted({int(m.group(1)) for name in form.fields if (m := pattern.match(name))})


def rows(form: PostedForm, prefix: str) -> list[dict[str, Any]]:
    """One kind of repeated row (:data:`ROWS`) as sent: the stored ones unless marked to
    remove, and the empty row if anything was written in it. An incomplete row is sent as
    it is, for the document to refuse (a remedy without what was tried, say)."""
    plain, sealed = ROWS[prefix]
    out = []
    for n in _row_numbers(form, prefix):
        def value(name: str, n: int = n) -> str | None:
            return form.get(f"{prefix}-{n}-{name}").strip() or None

        row: dict[str, Any] = {name: value(name) for name in plain}
        private = {name: value(name) for name in sealed}
        if value("remove") == "on" or not any([*row.values(), *private.values()]):
            continue
        if sealed:
            row["private"] = private
        out.append(row)
    return out


def _perpetrators(form: PostedForm, stored: Act | None) -> list[dict[str, Any]]:
    """The perpetrator rows as sent: the stored ones (unless marked to remove) and the
    empty row, if anything was written in it."""
    known = [inv.id for inv in stored.perpetrators] if stored else []
    out = []
    for n in _row_numbers(form, "perpetrators"):
        def value(name: str, n: int = n) -> str:
            return form.get(f"perpetrators-{n}-{name}").strip()

        private = {"names": _lines(value("names")), "badge_numbers": _lines(value("badge_numbers")),
                   "unit": value("unit") or None, "description": value("description") or None}
        row: dict[str, Any] = {name: value(name) or None
                               for name in (*INVOLVEMENT_CHOICES, "person_id")}
        if value("remove") == "on" or not any([*row.values(), *private.values()]):
            continue  # removed, or the empty row left empty
        row["private"] = private
        row["id"] = editing.stored_id(value("id"), known)
        out.append(row)
    return out


def _page(signed: pages.Signed, detail: CaseDetail, act: dict[str, Any] | None, *,
          status_code: int = 200, errors: list[str] | None = None,
          theirs: dict[str, Any] | None = None) -> Response:
    persons = detail.metadata.persons
    victims = [p for p in persons if p.role == "victim"] or persons
    return pages.render(
        "act.html", signed.lang, status_code=status_code, signed=signed, case=detail,
        act=act or {}, victims=victims, persons=persons,
        # The chain of events: any other act of the case this one may follow.
        other_acts=[a for a in detail.metadata.acts
                    if a.id is None or str(a.id) != (act or {}).get("id")],
        perpetrator_persons=[p for p in persons if p.role == "perpetrator"],
        errors=errors or [], theirs=theirs,
        differences=editing.differences(theirs, act or {}) if theirs is not None else [],
        detention_choices=DETENTION_CHOICES, detention_yes_no=DETENTION_YES_NO,
        detention_many=DETENTION_MANY, torture_choices=TORTURE_CHOICES,
        torture_yes_no=TORTURE_YES_NO, torture_many=TORTURE_MANY,
        title=pages.gettext(signed.lang, N_("Code an act")))


@routes.get("/cases/{case_id}/acts/new")
def new_act(case_id: uuid.UUID, signed: SignedIn, me: CaseStaff, db: DbSession) -> Response:
    detail = cases_service.detail(db, me, case_id)
    commit_before_rendering(db)
    return _page(signed, detail, None)


@routes.get("/cases/{case_id}/acts/{act_id}")
def edit_act(case_id: uuid.UUID, act_id: uuid.UUID, signed: SignedIn, me: CaseStaff,
             db: DbSession) -> Response:
    detail = cases_service.detail(db, me, case_id)
    act = _act(detail, act_id)
    commit_before_rendering(db)
    return _page(signed, detail, act.model_dump(mode="json") if act else None)


@routes.post("/cases/{case_id}/acts")
def save_new_act(request: Request, case_id: uuid.UUID, signed: SignedIn, me: CaseStaff,
                 form: Form, db: DbSession, settings: Config) -> Response:
    return _save(request, case_id, None, signed, me, form, db, settings)


@routes.post("/cases/{case_id}/acts/{act_id}")
def save_act(request: Request, case_id: uuid.UUID, act_id: uuid.UUID, signed: SignedIn,
             me: CaseStaff, form: Form, db: DbSession, settings: Config) -> Response:
    return _save(request, case_id, act_id, signed, me, form, db, settings)


def _save(request: Request, case_id: uuid.UUID, act_id: uuid.UUID | None, signed: pages.Signed,
          me: Principal, form: PostedForm, db: Session, settings: Settings) -> Response:
    check_csrf(request, me, form)
    detail = cases_service.detail(db, me, case_id)
    stored = _act(detail, act_id)
    mine = act_from_form(form, stored)
    acts = [a.model_dump(mode="json") for a in detail.metadata.acts if a.id != act_id]
    refused = editing.save_section(db, me, detail, form.get("version"), "acts",
                                   [*acts, mine], settings)
    if refused is None:
        return RedirectResponse(f"/staff/cases/{case_id}?done=act_saved", status_code=303)
    commit_before_rendering(db)  # the read of the case stays audited; nothing changed
    if refused.status_code == 409:  # a colleague saved first: show both, overwrite nothing
        return _page(signed, detail, mine, status_code=409,
                     theirs=stored.model_dump(mode="json") if stored else {})
    return _page(signed, detail, mine, status_code=422, errors=refused.errors)


# ---- referral drafts: preview, then download ----

MECHANISMS = {"wgeid": N_("UN Working Group on Enforced or Involuntary Disappearances"),
              "wgad": N_("UN Working Group on Arbitrary Detention")}
DRAFT_LANGUAGES = ("en", "fr", "es", "be", "ru", "uk")


@routes.get("/cases/{case_id}/referral-drafts/{mechanism}")
def referral_draft(request: Request, case_id: uuid.UUID, mechanism: str, signed: SignedIn,
                   me: CaseStaff, db: DbSession) -> Response:
    """The API's pre-filled draft, read through on a page, or downloaded (``download=1``)
    as Markdown to send on; a missing consent is a page naming it (409)."""
    lang = request.query_params.get("lang", "en")
    if mechanism not in MECHANISMS or lang not in DRAFT_LANGUAGES:
        raise NotFound("There is no such draft.")
    doc = drafts.draft(db, me, case_id, cast(drafts.Mechanism, mechanism),
                       cast(DraftLanguage, lang))
    text = render_markdown(doc, cast(DraftLanguage, lang))
    detail = cases_service.detail(db, me, case_id)
    commit_before_rendering(db)
    if request.query_params.get("download") == "1":
        name = f"{detail.reference}-{mechanism}-{lang}.md"
        return PlainTextResponse(text, media_type="text/markdown", headers={
            "Content-Disposition": f'attachment; filename="{name}"'})
    return pages.render("draft.html", signed.lang, signed=signed, case=detail,
                        mechanism=mechanism, mechanism_name=MECHANISMS[mechanism],
                        draft_lang=lang, text=text,
                        title=pages.gettext(signed.lang, N_("Referral draft")))
