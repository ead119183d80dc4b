"""Routes of the follow-up pages: log in with the receipt, read, write, add files.

All at two constant addresses (``/followup`` and ``/followup/files``), POST and render;
the follow-up session token travels only in hidden fields of these pages.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from api.core.errors import DokazError
from api.followup.service import FollowupAccess
from api.ingress.admit import Admission, Door, admission
from api.web import csrf, followup, intake, pages
from api.web.errors import error_page, file_error
from api.web.forms import FieldError
from api.web.i18n import N_
from api.web.pages import Page
from api.web.receive import ReceivedForm, read_small_form, receive_form

router = APIRouter(include_in_schema=False)
Lang = Annotated[str | None, Query(max_length=8)]
# Page doors keep a refusal for the page to explain (api.ingress.admit).
Admitted = Annotated[Admission[None], Depends(admission(Door.WEB_FOLLOWUP))]
FilesAdmitted = Annotated[Admission[None], Depends(admission(Door.WEB_FOLLOWUP_FILES))]

EXPIRED_HEADING = N_("Your follow-up page has closed")
EXPIRED_TEXT = N_("For your safety the page closes after a while. Open it again with your "
                  "receipt.")
LOGIN_EXPIRED = N_("This page had expired. Please enter your receipt again.")
FILES_EXPIRED = N_("This page had expired, so the files were not kept. Choose them again "
                   "and send.")


def login_page(page: Page, *, status_code: int = 200,
               errors: list[FieldError] | None = None) -> Response:
    return page.render("followup_login.html", status_code=status_code,
                       switcher_path="/followup", errors=errors,
                       title=page.gettext(N_("Follow up with your receipt")))


def followup_page(page: Page, view: followup.FollowupView, *, status_code: int = 200,
                  errors: list[FieldError] | None = None, notice: str = "",
                  message_text: str = "", files_dropped: bool = False) -> Response:
    return page.render(
        "followup.html", status_code=status_code, errors=errors,
        title=page.gettext(N_("Your report")), notice=page.gettext(notice) if notice else "",
        case_reference=view.status.reference,
        status=view.status.status, accepts_input=view.status.accepts_input,
        status_label=page.gettext(followup.STATUS_LABELS[view.status.status]),
        messages=view.messages, files=view.files, session_token=view.session_token,
        message_text=message_text, files_dropped=files_dropped,
        max_files=page.settings.max_files_per_submission,
        max_file_bytes=page.settings.max_file_bytes,
        session_minutes=page.settings.followup_token_minutes,
    )


def expired_page(page: Page, kept_text: str = "") -> Response:
    return page.message(401, EXPIRED_HEADING, [EXPIRED_TEXT], kept_text=kept_text,
                        back="/followup")


@router.get("/followup")
def followup_login(request: Request, lang: Lang = None) -> Response:
    return login_page(Page.for_request(request, lang))


@router.post("/followup")
async def followup_post(request: Request, admitted: Admitted) -> Response:
    page = Page.for_request(request)
    try:
        form = await read_small_form(admitted)
    except DokazError as exc:
        return error_page(page, exc, back="/followup")
    page = Page.for_request(request, form.get("lang"))
    problem = csrf.check_token(
        page.settings.secret_key.get_secret_value(), request.cookies.get(csrf.COOKIE),
        form.get(csrf.FIELD), page.settings.web_form_token_hours * 3600,
    )
    if form.get("action") == "message":
        text = form.get("message")
        if problem is not None:
            return page.message(403, pages.CSRF_HEADING, [pages.CSRF_TEXT], kept_text=text,
                                back="/followup")
        return await _message(page, request, form.get("session"), text)
    if problem is not None:
        return login_page(page, status_code=403, errors=[FieldError("receipt", LOGIN_EXPIRED)])
    try:
        view = await followup.open_session(request, admitted, form.get("receipt"))
    except followup.ReceiptRejected as exc:
        return login_page(page, status_code=exc.status_code, errors=[exc.error])
    except DokazError as exc:
        return error_page(page, exc, back="/followup")
    return followup_page(page, view)


async def _message(page: Page, request: Request, token: str, text: str) -> Response:
    try:
        error = followup.check_message(text)
        if error is not None:
            view = await followup.load(request, token)
            return followup_page(page, view, status_code=422, errors=[error],
                                 message_text=text)
        try:
            view = await followup.send_message(request, token, text)
        except DokazError as exc:
            if not followup.is_case_closed(exc):
                return error_page(page, exc, kept_text=text, back="/followup")
            view = await followup.load(request, token)
            # The page now shows no form: the error points at what it says instead, and
            # the text comes back to be copied (followup.html).
            return followup_page(page, view, status_code=409, message_text=text,
                                 errors=[FieldError("closed-title", followup.CASE_CLOSED)])
    except followup.SessionExpired:
        return expired_page(page, kept_text=text)
    return followup_page(page, view, notice=N_("Your message has been sent."))


@router.post("/followup/files")
async def followup_files(request: Request, admitted: FilesAdmitted) -> Response:
    page = Page.for_request(request)
    settings = page.settings

    access: list[FollowupAccess] = []

    async def accept_files(received: ReceivedForm) -> bool:
        # Checked when the first file arrives: no bytes are kept for an ended session,
        # and the access taken now outlives a slow upload.
        found = await followup.access_for(request, received.get("session"))
        access.extend([found] if found is not None else [])
        return found is not None

    try:
        received = await receive_form(request, admitted, intake.context(request, settings),
                                      accept_files)
    except DokazError as exc:
        return error_page(page, exc, back="/followup")
    page = Page.for_request(request, received.lang)
    token = received.get("session")
    try:
        if received.error is not None or received.csrf_problem is not None:
            await received.discard()
            view = await followup.load(request, token)
            if received.error is not None:
                return followup_page(page, view, status_code=received.error.status_code,
                                     files_dropped=True,
                                     errors=[file_error(received.error,
                                                        settings.web_max_text_chars, "files")])
            return followup_page(page, view, status_code=403,
                                 errors=[FieldError("files", FILES_EXPIRED)])
        if not received.batch.files and not received.all("uploads"):
            view = await followup.load(request, token)
            return followup_page(page, view, status_code=422, errors=[
                FieldError("files", N_("Choose at least one file."))])
        try:
            view = await followup.add_files(request, settings, received,
                                            access[0] if access else None)
        except DokazError as exc:
            if not followup.is_case_closed(exc):
                return error_page(page, exc, back="/followup")
            view = await followup.load(request, token)
            return followup_page(page, view, status_code=409,
                                 errors=[FieldError("closed-title", followup.CASE_CLOSED)])
    except followup.SessionExpired:
        await received.discard()
        return expired_page(page)
    return followup_page(page, view, notice=N_("Your files have been received."))
