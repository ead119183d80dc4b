"""The console's pages for a case's interventions: the steps taken on the victim's behalf
(an appeal, a letter to a UN body, a complaint), each with its month, its status and, sealed,
its reference, correspondence and response.

Saving sends the case's interventions through the API's metadata edit with the version
the form was opened at (api/console/editing.py), so a colleague's save in between is shown
next to one's own, never overwritten.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from api.auth.principals import Principal
from api.cases import service as cases_service
from api.cases.metadata.document import Intervention, MetadataPatch
from api.cases.schemas import CaseDetail
from api.console import editing, pages
from api.console.dependencies import CaseStaff, Form, PostedForm, Readers, SignedIn, check_csrf
from api.console.i18n import N_
from api.core.db import commit_before_rendering
from api.core.dependencies import Config, DbSession
from api.core.errors import NotFound
from api.core.settings import Settings

routes = APIRouter()  # included in the console router, under /staff

SAVED = N_("The intervention is saved.")
REMOVED = N_("The intervention is removed from the case.")
_NOTICES = {"saved": SAVED, "removed": REMOVED}


def _stored(detail: CaseDetail, intervention_id: uuid.UUID | None) -> Intervention | None:
    if intervention_id is None:
        return None
    for item in detail.metadata.interventions:
        if item.id == intervention_id:
            return item
    raise NotFound("This case has no such intervention.")


def intervention_from_form(form: PostedForm, stored: Intervention | None) -> dict[str, Any]:
    """The intervention as the form says (the form shows every field of one)."""
    def value(name: str) -> str | None:
        return form.get(name).strip() or None

    item: dict[str, Any] = {name: value(name) for name in ("intervention_type", "month",
                                                           "status")}
    item["private"] = {name: value(name) for name in ("reference", "correspondence",
                                                      "response")}
    if stored is not None:
        item["id"] = str(stored.id)
    return item


@routes.get("/cases/{case_id}/interventions")
def interventions(request: Request, case_id: uuid.UUID, signed: SignedIn, me: Readers,
                  db: DbSession) -> Response:
    detail = cases_service.detail(db, me, case_id)
    commit_before_rendering(db)
    return pages.render(
        "interventions.html", signed.lang, signed=signed, case=detail,
        can_act=me.role in pages.CASE_STAFF_ROLES,
        notice=pages.notice(request, signed.lang, _NOTICES),
        title=pages.gettext(signed.lang, N_("Interventions")))


@routes.get("/cases/{case_id}/interventions/new")
def new_intervention(case_id: uuid.UUID, signed: SignedIn, me: CaseStaff,
                     db: DbSession) -> Response:
    detail = cases_service.detail(db, me, case_id)
    commit_before_rendering(db)
    return _page(signed, detail, None)


@routes.get("/cases/{case_id}/interventions/{intervention_id}")
def edit_intervention(case_id: uuid.UUID, intervention_id: uuid.UUID, signed: SignedIn,
                      me: CaseStaff, db: DbSession) -> Response:
    detail = cases_service.detail(db, me, case_id)
    stored = _stored(detail, intervention_id)
    commit_before_rendering(db)
    return _page(signed, detail, stored.model_dump(mode="json") if stored else None)


@routes.post("/cases/{case_id}/interventions")
def save_new_intervention(request: Request, case_id: uuid.UUID, signed: SignedIn,
                          me: CaseStaff, form: Form, db: DbSession, settings: Config
                          ) -> Response:
    return _save(request, case_id, None, signed, me, form, db, settings)


@routes.post("/cases/{case_id}/interventions/{intervention_id}")
def save_intervention(request: Request, case_id: uuid.UUID, intervention_id: uuid.UUID,
                      signed: SignedIn, me: CaseStaff, form: Form, db: DbSession,
                      settings: Config) -> Response:
    return _save(request, case_id, intervention_id, signed, me, form, db, settings)


@routes.post("/cases/{case_id}/interventions/{intervention_id}/remove")
def remove_intervention(request: Request, case_id: uuid.UUID, intervention_id: uuid.UUID,
                        signed: SignedIn, me: CaseStaff, form: Form, db: DbSession,
                        settings: Config) -> Response:
    """The case's interventions without this one (one recorded by mistake, or twice),
    with the version the page was opened at: a colleague's save in between is refused,
    not overwritten. Nothing else refers to an intervention. (``signed``: a refusal is a
    page in the account's language.)"""
    check_csrf(request, me, form)
    detail = cases_service.detail(db, me, case_id)
    _stored(detail, intervention_id)
    rest = [i.model_dump(mode="json") for i in detail.metadata.interventions
            if i.id != intervention_id]
    patch = MetadataPatch.model_validate({"interventions": rest})
    cases_service.edit_metadata(db, me, case_id, patch, form.version(), settings)
    return RedirectResponse(f"/staff/cases/{case_id}/interventions?done=removed",
                            status_code=303)


def _save(request: Request, case_id: uuid.UUID, intervention_id: uuid.UUID | None,
          signed: pages.Signed, me: Principal, form: PostedForm, db: Session,
          settings: Settings) -> Response:
    check_csrf(request, me, form)
    detail = cases_service.detail(db, me, case_id)
    stored = _stored(detail, intervention_id)
    mine = intervention_from_form(form, stored)
    others = [i.model_dump(mode="json") for i in detail.metadata.interventions
              if i.id != intervention_id]
    refused = editing.save_section(db, me, detail, form.get("version"), "interventions",
                                   [*others, mine], settings)
    if refused is None:
        return RedirectResponse(f"/staff/cases/{case_id}/interventions?done=saved",
                                status_code=303)
    commit_before_rendering(db)  # the read of the case stays audited; nothing changed
    if refused.status_code == 409:  # a colleague saved first: show both, overwrite nothing
        return _page(signed, detail, mine, status_code=409,
                     theirs=stored.model_dump(mode="json") if stored else {})
    return _page(signed, detail, mine, status_code=422, errors=refused.errors)


def _page(signed: pages.Signed, detail: CaseDetail, item: dict[str, Any] | None, *,
          status_code: int = 200, errors: list[str] | None = None,
          theirs: dict[str, Any] | None = None) -> Response:
    return pages.render(
        "intervention.html", signed.lang, status_code=status_code, signed=signed,
        case=detail, item=item or {}, errors=errors or [], theirs=theirs,
        differences=editing.differences(theirs, item or {}) if theirs is not None else [],
        title=pages.gettext(signed.lang, N_("Record an intervention")))
