"""Routes of the public pages: the report form, receipt, follow-up and safety page.

Navigation that changes state is POST-and-render, never redirect-with-identifier: the form
always lives at ``/report`` and the follow-up at ``/followup``, so browser history holds
nothing but those two addresses (and the chosen language). The receipt and the follow-up
session never appear in a URL; the follow-up session travels in a hidden field.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import RedirectResponse, Response

from api.core.errors import DokazError
from api.ingress.admit import Admission, Door, admission
from api.intake.service import ReceiptAhead
from api.web import i18n, intake, pages
from api.web.errors import error_page, file_error
from api.web.followup_routes import router as followup_router
from api.web.forms import FieldError, ReportInput, validate
from api.web.i18n import N_
from api.web.pages import Page
from api.web.receive import HONEYPOT_FIELD, ReceivedForm, receive_form
from api.web.submission import CONSENT_EXPLANATIONS, SchemaProblems, to_submission

router = APIRouter(include_in_schema=False)
router.include_router(followup_router)

STATIC_DIR = Path(__file__).parent / "static"
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Read once: only these files exist, so no request path ever reaches the file system.
STATIC_FILES = {
    p.name: (p.read_bytes(), STATIC_TYPES[p.suffix])
    for p in STATIC_DIR.iterdir()
    if p.suffix in STATIC_TYPES
}

Lang = Annotated[str | None, Query(max_length=8)]
# A page door: a refusal (rate, disk, headers) is kept for the page to explain.
ReportAdmitted = Annotated[Admission[None], Depends(admission(Door.WEB_REPORT))]


def _report_page(page: Page, form: ReportInput, *, status_code: int = 200,
                 errors: list[FieldError] | None = None, files_dropped: bool = False) -> Response:
    return page.render(
        "report.html", status_code=status_code, switcher_path="/report",
        title=page.gettext(N_("Report what happened")), form=form, errors=errors,
        files_dropped=files_dropped, honeypot=HONEYPOT_FIELD,
        once_field=intake.ONCE_FIELD, once=secrets.token_urlsafe(16),
        max_files=page.settings.max_files_per_submission,
        max_file_bytes=page.settings.max_file_bytes,
        consent_explanations={code: page.gettext(text)
                              for code, text in CONSENT_EXPLANATIONS.items()},
    )


def _already_received(page: Page, reference: str | None, kept_text: str) -> Response:
    # The text comes back in case the person edited the page before sending it again:
    # what they changed was not filed, and must not be lost.
    return page.render("already_received.html", switcher_path="/report",
                       title=page.gettext(N_("Your report had already been received")),
                       case_reference=reference, kept_text=kept_text)


@router.get("/")
def home(lang: Lang = None) -> Response:
    target = "/report" + (f"?lang={lang}" if i18n.normalise(lang) else "")
    return RedirectResponse(target, status_code=303)


@router.get("/report")
async def report_form(request: Request, lang: Lang = None) -> Response:
    page = Page.for_request(request, lang)
    try:
        # Said before anyone writes a testimony that could not be kept.
        await intake.check_configured(request)
    except DokazError as exc:
        return error_page(page, exc)
    return _report_page(page, ReportInput())


@router.post("/report")
async def report_submit(request: Request, admitted: ReportAdmitted) -> Response:
    ahead = ReceiptAhead(Page.for_request(request).settings)
    try:
        return await _report_submit(request, admitted, ahead)
    finally:
        ahead.cancel()  # a receipt started for a report that was not stored


async def _report_submit(request: Request, admitted: ReportAdmitted, ahead: ReceiptAhead
                         ) -> Response:
    page = Page.for_request(request)
    settings = page.settings
    today = datetime.now(UTC).date()

    async def accept_files(received: ReceivedForm) -> bool:
        # Called when the first file arrives: every text field is known by then.
        if received.honeypot_filled or not await intake.configured(request):
            return False
        if await intake.earlier_report(request, settings, received) is not None:
            return False  # this form was sent before: its files are not stored twice
        form = ReportInput.from_pairs(received.fields)
        if validate(form, today, settings.web_max_text_chars):
            return False
        ahead.start()  # the receipt is hashed while the files stream
        return True

    try:
        received = await receive_form(request, admitted, intake.context(request, settings),
                                      accept_files)
    except DokazError as exc:
        return error_page(page, exc)
    page = Page.for_request(request, received.lang)
    form = ReportInput.from_pairs(received.fields)
    try:
        # After the text fields, so the answer is in the form's language and gives the
        # text back; files were not stored (accept_files).
        await intake.check_configured(request)
    except DokazError as exc:
        await received.discard()
        return error_page(page, exc, kept_text=form.get("narrative"))
    earlier = await intake.earlier_report(request, settings, received)
    if earlier is not None:
        # The same form again (a reload of the receipt page, a second press of the
        # button): nothing new is filed; the person learns the first one arrived.
        await received.discard()
        return _already_received(page, earlier.reference, form.get("narrative"))
    if received.error is not None:
        return _report_page(page, form, status_code=received.error.status_code,
                            files_dropped=True,
                            errors=[file_error(received.error, settings.web_max_text_chars)])
    if received.csrf_problem is not None:
        await received.discard()
        return _report_page(page, form, status_code=403, files_dropped=received.had_files,
                            errors=[FieldError("narrative", pages.CSRF_TEXT)])
    errors = validate(form, today, settings.web_max_text_chars)
    try:
        if errors:
            raise SchemaProblems(errors)
        submission = to_submission(form, page.lang, today, received.get(HONEYPOT_FIELD),
                                   uploads=received.all("uploads"))
        result = await intake.create(request, settings, submission, received, ahead)
    except SchemaProblems as exc:
        await received.discard()
        return _report_page(page, form, status_code=422, errors=exc.errors,
                            files_dropped=received.had_files)
    except DokazError as exc:
        await received.discard()
        return error_page(page, exc, kept_text=form.get("narrative"))
    if result.receipt is None:  # a concurrent post of the same form was filed first
        return _already_received(page, result.reference, form.get("narrative"))
    return page.render(
        "receipt.html", title=page.gettext(N_("Your report has been received")),
        receipt_groups=result.receipt.split("-"), case_reference=result.reference,
        received_on=today, files=result.files,
    )


@router.get("/about")
def about(request: Request, lang: Lang = None) -> Response:
    page = Page.for_request(request, lang)
    return page.render("about.html", switcher_path="/about",
                       title=page.gettext(N_("Safety and what we store")),
                       onion_address=page.settings.onion_address)


@router.get("/static/{name}")
def static(name: str) -> Response:
    found = STATIC_FILES.get(name)
    if found is None:
        return Response(status_code=404)
    body, media_type = found
    return Response(body, media_type=media_type)
