"""Coordinator pages of the console: assigning, granting and revoking access, merging a
duplicate and splitting a case (each after a preview of what moves), and deciding
two-person requests.

The same service calls as the API's coordinator routes (``api.cases``, ``api.approvals``),
so the same rules hold: a grant is a request another coordinator approves, an approval
cannot be decided by the person it is about or who asked for it, a merge moves whole
threads and never shows one submitter's words to another.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.approvals import service as approvals
from api.auth import repository as auth_repository
from api.auth.models import StaffUser
from api.auth.roles import Role
from api.cases import merge as merging
from api.cases import service as cases_service
from api.cases.access import grants
from api.console import pages, queue
from api.console.dependencies import Coordinators, Form, PostedForm, SignedIn, check_csrf
from api.console.i18n import N_
from api.core.db import commit_before_rendering
from api.core.dependencies import Config, DbSession, Now
from api.core.errors import InvalidInput

routes = APIRouter()  # included in the console router, under /staff

ASSIGNABLE = frozenset({Role.COORDINATOR.value, Role.CASEWORKER.value})
# Case access goes to those who work cases (api.cases.access.grants); lawyers see the
# cases of their own submissions and get single threads, never a whole case from here.
GRANTABLE = ASSIGNABLE


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _uuid(form: PostedForm, name: str, *, optional: bool = False) -> uuid.UUID | None:
    value = form.get(name).strip()
    if not value and optional:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(f"Choose a {name.replace('_', ' ')} from the list.") from None


def readers(staff: Iterable[StaffUser], roles: frozenset[str]) -> list[StaffUser]:
    """Of ``staff``, the accounts that may receive a case key: active, approved as
    readers, of ``roles``."""
    return [u for u in staff
            if u.role in roles and u.disabled_at is None and u.reader_approved_on is not None]



@routes.post("/cases/{case_id}/assignee")
def assign(request: Request, case_id: uuid.UUID, me: Coordinators, form: Form, db: DbSession,
           settings: Config) -> Response:
    check_csrf(request, me, form)
    cases_service.assign(db, me, case_id, _uuid(form, "assignee_id", optional=True), settings,
                         form.version())
    queue.tab_counts(request).forget(me.user_id)  # her tabs count afresh
    return _see_other(f"/staff/cases/{case_id}?done=assigned")


@routes.post("/cases/{case_id}/access")
def grant(request: Request, case_id: uuid.UUID, me: Coordinators, form: Form, db: DbSession,
          settings: Config, now: Now) -> Response:
    check_csrf(request, me, form)
    staff_id = _uuid(form, "staff_id")
    assert staff_id is not None
    approvals.request_grant(db, settings, me, case_id, staff_id, today=now.date())
    return _see_other(f"/staff/cases/{case_id}?done=grant_requested")


@routes.post("/cases/{case_id}/access/{staff_id}/revoke")
def revoke(request: Request, case_id: uuid.UUID, staff_id: uuid.UUID, me: Coordinators,
           form: Form, db: DbSession, settings: Config) -> Response:
    check_csrf(request, me, form)
    grants.revoke(db, me, case_id, staff_id, settings)
    return _see_other(f"/staff/cases/{case_id}?done=revoked")


@routes.get("/cases/{case_id}/merge")
def merge_preview(request: Request, case_id: uuid.UUID, signed: SignedIn, me: Coordinators,
                  db: DbSession) -> Response:
    """What a merge would move into this case, before anything moves: the other case's
    submissions, files and messages (counts and dates, its coarse facts), read as a
    coordinator reads any case (audited)."""
    reference = request.query_params.get("reference", "").strip()
    if not reference:
        raise InvalidInput("Write the reference of the case to merge into this one.")
    target = cases_service.detail(db, me, case_id)
    source = cases_service.detail(db, me, cases_service.case_id_for_reference(db, me, reference))
    if source.id == target.id:
        raise InvalidInput("A case cannot be merged into itself.")
    commit_before_rendering(db)
    return pages.render("merge.html", signed.lang, signed=signed, target=target, source=source,
                        title=pages.gettext(signed.lang, N_("Merge a duplicate")))


@routes.post("/cases/{case_id}/merge")
def merge(request: Request, case_id: uuid.UUID, me: Coordinators, form: Form, db: DbSession,
          settings: Config) -> Response:
    check_csrf(request, me, form)
    source_id = _uuid(form, "from_case_id")
    assert source_id is not None
    merging.merge(db, me, case_id, source_id, settings, form.get("comment").strip() or None)
    queue.tab_counts(request).forget(me.user_id)  # her tabs count afresh
    return _see_other(f"/staff/cases/{case_id}?done=merged")


SPLIT_DONE = N_("This is the new case split out of the other one: the chosen submitters' "
                "threads moved here whole, and everyone who could open the other case can "
                "open this one.")


def _thread_ids(values: list[str]) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(v) for v in values]
    except ValueError:
        raise InvalidInput("Choose the threads to move from the list.") from None


@routes.get("/cases/{case_id}/split")
def split_page(request: Request, case_id: uuid.UUID, signed: SignedIn, me: Coordinators,
               db: DbSession) -> Response:
    """Choose the submitters' threads that move to a new case; with ``thread`` ids chosen,
    the preview: what moves and what stays (labels, counts, days; no content beyond what
    the case page shows), checked by the split's own rules before anything moves."""
    case = cases_service.detail(db, me, case_id)
    chosen = _thread_ids(request.query_params.getlist("thread"))
    plan = merging.split_plan(db, me, case_id, chosen) if chosen else None
    # Files per thread (of the threads shared with this coordinator).
    thread_of = {s.id: s.thread_id for s in case.submissions}
    files = Counter(thread_of.get(a.submission_id) for a in case.attachments
                    if a.submission_id is not None)
    threads = {t.id: t for t in case.threads}
    commit_before_rendering(db)
    return pages.render(
        "split.html", signed.lang, signed=signed, case=case, files=files,
        moving=[threads[r.id] for r in plan.moving] if plan else [],
        staying=[threads[r.id] for r in plan.staying] if plan else [],
        title=pages.gettext(signed.lang, N_("Split the case")))


@routes.post("/cases/{case_id}/split")
def split(request: Request, case_id: uuid.UUID, me: Coordinators, form: Form, db: DbSession,
          settings: Config) -> Response:
    check_csrf(request, me, form)
    new = merging.split(db, me, case_id, _thread_ids(form.all("thread")), settings,
                        form.get("comment").strip() or None, if_match=form.version())
    queue.tab_counts(request).forget(me.user_id)  # her tabs count afresh
    return _see_other(f"/staff/cases/{new.id}?done=split")


# ---- two-person requests ----

@routes.get("/approvals")
def approvals_page(request: Request, signed: SignedIn, me: Coordinators, db: DbSession,
                   settings: Config, now: Now) -> Response:
    pending = approvals.list_pending(db, settings, me, now.date())
    names = {u.id: u.username for u in auth_repository.list_staff(db)}
    commit_before_rendering(db)
    return pages.render("approvals.html", signed.lang, signed=signed, pending=pending,
                        staff_names=names, notice=pages.notice(request, signed.lang, _NOTICES),
                        title=pages.gettext(signed.lang, N_("Waiting for a second person")))


_NOTICES = {"approved": N_("Approved: the change took effect."),
            "rejected": N_("Turned down: nothing changed.")}




@routes.post("/approvals/{approval_id}/approve")
def approve(request: Request, approval_id: uuid.UUID, me: Coordinators, form: Form,
            db: DbSession, settings: Config, now: Now) -> Response:
    check_csrf(request, me, form)
    approvals.approve(db, settings, me, approval_id, now.date())
    return _see_other("/staff/approvals?done=approved")


@routes.post("/approvals/{approval_id}/reject")
def reject(request: Request, approval_id: uuid.UUID, me: Coordinators, form: Form,
           db: DbSession, settings: Config, now: Now) -> Response:
    check_csrf(request, me, form)
    approvals.reject(db, settings, me, approval_id, now.date())
    return _see_other("/staff/approvals?done=rejected")
