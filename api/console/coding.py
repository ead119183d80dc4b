"""The console's coding editor for acts (the coded facts of one act, with its detention
and torture details, as form fields whose every choice comes from its vocabulary), and
the referral drafts those codes fill in.

Saving sends the case's acts through the same metadata edit as the API's PATCH
(``api.cases.service.edit_metadata``), with the version the form was opened at. A
colleague's save in between is not overwritten: the page comes back with both versions,
theirs as stored now and the one just sent, to be merged by the person who knows why.
Fields the form does not show (witnesses, perpetrators, evidence, the rest of the sealed
parts) are kept as stored.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.cases import service as cases_service
from api.cases.metadata.document import Act, MetadataPatch
from api.cases.referrals import drafts
from api.cases.referrals.catalog import DraftLanguage
from api.cases.referrals.markdown import render_markdown
from api.cases.schemas import CaseDetail
from api.console import pages
from api.console.dependencies import CaseStaff, Form, PostedForm, SignedIn, check_csrf
from api.console.i18n import N_
from api.core.db import commit_before_rendering
from api.core.dependencies import Config, DbSession
from api.core.errors import NotFound, PreconditionFailed

routes = APIRouter()  # included in the console router, under /staff

# Form field -> where it goes in an act (coded choices, each from its vocabulary).
CHOICES = {"act_type": "act_type", "date_precision": "date_precision", "region": "region",
           "facility": "facility", "status_at_end": "status_at_end"}
DETENTION_CHOICES = {"legal_regime": "detention_regime", "facility_type": "facility_type",
                     "counsel_access": "counsel_access"}
TORTURE_CHOICES = {"medical_attention": "medical_attention",
                   "statement_signed": "statement_signed"}
TORTURE_MANY = {"methods": "torture_method", "intents": "intent"}
SAVED = N_("The act is saved.")


def _act(detail: CaseDetail, act_id: uuid.UUID | None) -> Act | None:
    if act_id is None:
        return None
    for act in detail.metadata.acts:
        if act.id == act_id:
            return act
    raise NotFound("This case has no such act.")


def act_from_form(form: PostedForm, stored: Act | None) -> dict[str, Any]:
    """The act as the form says, over what is stored (fields the form lacks are kept)."""
    act: dict[str, Any] = stored.model_dump(mode="json") if stored else {}

    def value(name: str) -> str | None:
        return form.get(name).strip() or None

    act["victim_id"] = value("victim_id")
    for name in CHOICES:
        act[name] = value(name)
    act["start_month"] = value("start_month")
    act["end_month"] = value("end_month")
    private = dict(act.get("private") or {})
    private["location"] = value("location")
    private["start_date"] = value("start_date")
    act["private"] = private
    if form.get("has_detention") == "on":
        detention = dict(act.get("detention") or {})
        for name in DETENTION_CHOICES:
            detention[name] = value(name)
        detention["ongoing"] = form.get("ongoing") == "on"
        days = value("admin_arrest_days")
        detention["admin_arrest_days"] = int(days) if days and days.isdigit() else days
        act["detention"] = detention
    else:
        act["detention"] = None
    if form.get("has_torture") == "on":
        torture = dict(act.get("torture") or {})
        for name in TORTURE_CHOICES:
            torture[name] = value(name)
        for name in TORTURE_MANY:
            torture[name] = [v for v in form.all(name) if v]
        act["torture"] = torture
    else:
        act["torture"] = None
    return act


def _errors(exc: ValidationError) -> list[str]:
    """Which fields of the form are wrong (names of the form's own fields, no input)."""
    out = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
        field = next((p for p in reversed(loc) if p not in ("acts", "private", "detention",
                                                            "torture")), "act")
        out.append(field)
    return sorted(set(out))


def _page(signed: pages.Signed, detail: CaseDetail, act: dict[str, Any] | None, *,
          status_code: int = 200, errors: list[str] | None = None,
          theirs: dict[str, Any] | None = None) -> Response:
    victims = [p for p in detail.metadata.persons if p.role == "victim"] or \
        detail.metadata.persons
    return pages.render(
        "act.html", signed.lang, status_code=status_code, signed=signed, case=detail,
        act=act or {}, victims=victims, errors=errors or [], theirs=theirs,
        choices=CHOICES, detention_choices=DETENTION_CHOICES,
        torture_choices=TORTURE_CHOICES, torture_many=TORTURE_MANY,
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
          me: Any, form: PostedForm, db: Any, settings: Any) -> Response:
    check_csrf(request, me, form)
    detail = cases_service.detail(db, me, case_id)
    stored = _act(detail, act_id)
    mine = act_from_form(form, stored)
    version = form.get("version")
    if not version.isdigit() or int(version) != detail.version:
        # Someone saved since this form was opened: show both, overwrite nothing.
        theirs = stored.model_dump(mode="json") if stored else None
        commit_before_rendering(db)  # the read of the case stays audited; nothing changed
        return _page(signed, detail, mine, status_code=409, theirs=theirs or {})
    acts = [a.model_dump(mode="json") for a in detail.metadata.acts if a.id != act_id]
    acts.append(mine)
    try:
        patch = MetadataPatch.model_validate({"acts": acts})
    except ValidationError as exc:
        commit_before_rendering(db)  # the read of the case stays audited; nothing changed
        return _page(signed, detail, mine, status_code=422, errors=_errors(exc))
    try:
        cases_service.edit_metadata(db, me, case_id, patch, int(version), settings)
    except PreconditionFailed:
        commit_before_rendering(db)  # the read of the case stays audited; nothing changed
        return _page(signed, detail, mine, status_code=409,
                     theirs=stored.model_dump(mode="json") if stored else {})
    return RedirectResponse(f"/staff/cases/{case_id}?done=act_saved", status_code=303)


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
