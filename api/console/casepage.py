"""Case page actions beside reading and moving: a clean copy of a file, a submitter's
thread marked answered without a reply.

The same service calls as the API (``api.cases.files.attachments.make_derivative``,
``api.cases.service.mark_answered``), so the same rules hold: a clean copy is made from an
original of a type that can be cleaned, in a capped child process, and a thread is marked
answered only by someone it is shared with, audited like a reply.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.cases import service as cases_service
from api.cases.files import attachments
from api.console.dependencies import CaseStaff, Form, check_csrf
from api.console.i18n import N_
from api.core.dependencies import Config, DbSession
from api.storage.dependencies import Storage

routes = APIRouter()  # included in the console router, under /staff

NOTICES = {
    "cleaned": N_("The clean copy is made: it is listed under the files, without the "
                  "original's metadata."),
    "answered": N_("The thread is marked answered; it no longer waits for a reply."),
}


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


@routes.post("/cases/{case_id}/attachments/{attachment_id}/clean-copy")
def clean_copy(request: Request, case_id: uuid.UUID, attachment_id: uuid.UUID, me: CaseStaff,
               form: Form, db: DbSession, settings: Config, storage: Storage) -> Response:
    # Made while the request waits (the API's own call): the page that follows lists it.
    check_csrf(request, me, form)
    attachments.make_derivative(db, me, case_id, attachment_id, settings, storage)
    return _see_other(f"/staff/cases/{case_id}?done=cleaned#files-heading")


@routes.post("/cases/{case_id}/threads/{thread_id}/answered")
def mark_answered(request: Request, case_id: uuid.UUID, thread_id: uuid.UUID, me: CaseStaff,
                  form: Form, db: DbSession, settings: Config) -> Response:
    check_csrf(request, me, form)
    cases_service.mark_answered(db, me, case_id, thread_id, settings)
    return _see_other(f"/staff/cases/{case_id}?done=answered")
