"""Problems that stop a page from doing its job, explained to the person on a page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from api.core.errors import (
    DokazError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    UnsupportedMediaType,
)
from api.ingress import filetypes
from api.ingress.files import BadFilename, FileTypeRefused
from api.ingress.guards import BodyTimeout
from api.ingress.origin import CrossSite
from api.keys.service import NoRecoveryKey
from api.web import pages
from api.web.forms import LONG_TEXT_FIELDS, SHORT_TEXT_LIMIT, TEXT_FIELDS, FieldError
from api.web.i18n import N_
from api.web.pages import Page
from api.web.receive import TextTooLong


def error_page(page: Page, exc: DokazError, *, kept_text: str = "", back: str = "/report",
                ) -> Response:
    if isinstance(exc, CrossSite):
        return page.message(403, pages.CSRF_HEADING, [pages.CROSS_SITE_TEXT], back=back)
    if isinstance(exc, PayloadTooLarge):
        return page.message(413, pages.TOO_LARGE_HEADING, [pages.TOO_LARGE_TEXT],
                            kept_text=kept_text, back=back)
    if isinstance(exc, RateLimited):
        return page.message(429, pages.RATE_HEADING, [pages.RATE_TEXT], kept_text=kept_text,
                            back=back, headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, NoRecoveryKey):
        return page.message(503, pages.NOT_SET_UP_HEADING,
                            [pages.NOT_SET_UP_TEXT, pages.NOT_SET_UP_ADMIN_TEXT],
                            params=pages.NOT_SET_UP_COMMANDS, kept_text=kept_text, back=back,
                            headers=exc.headers)
    if isinstance(exc, BodyTimeout):
        return page.message(408, pages.TIMEOUT_HEADING, [pages.TIMEOUT_TEXT],
                            kept_text=kept_text, back=back)
    if exc.status_code >= 500:
        return page.message(exc.status_code, pages.UNAVAILABLE_HEADING,
                            [pages.UNAVAILABLE_TEXT], kept_text=kept_text, back=back)
    return page.message(exc.status_code, pages.BAD_REQUEST_HEADING, [pages.BAD_REQUEST_TEXT],
                        kept_text=kept_text, back=back)


def file_error(exc: DokazError, max_text_chars: int, text_field: str = "narrative"
               ) -> FieldError:
    """What went wrong after the text arrived (files, an overlong field), for the person.

    An overlong field is named when the page shows it, otherwise ``text_field`` is.
    """
    if isinstance(exc, TextTooLong):
        field = exc.field if exc.field in TEXT_FIELDS else text_field
        limit = max_text_chars if field in LONG_TEXT_FIELDS else SHORT_TEXT_LIMIT
        return FieldError(field, N_("Please write at most %(max)s characters here."),
                          {"max": limit})
    if isinstance(exc, PayloadTooLarge):
        return FieldError("files", pages.FILES_TOO_LARGE)
    if isinstance(exc, FileTypeRefused):
        # Named for the person who chose it; the error itself never carries the name.
        name = exc.filename or f"#{exc.number}"
        if exc.verdict.refused == filetypes.PROGRAM:
            return FieldError("files", pages.FILE_REFUSED_PROGRAM, {"name": name})
        return FieldError("files", pages.FILE_REFUSED_TYPE,
                          {"name": name, "type": exc.verdict.media_type})
    if isinstance(exc, UnsupportedMediaType):
        return FieldError("files", pages.FILE_REFUSED)
    if isinstance(exc, BadFilename):
        return FieldError("files", pages.FILE_NAME_REFUSED)
    if isinstance(exc, RateLimited):
        return FieldError("files", pages.RATE_TEXT)
    return FieldError("files", pages.FILES_INCOMPLETE)


# The addresses of the public pages (api.web.router): an error there is shown as a page.
PAGE_PREFIXES = ("/report", "/about", "/followup")
NOT_FOUND_HEADING = N_("This page does not exist")
NOT_FOUND_TEXT = N_("The address may be mistyped or out of date. Go to the form and start "
                    "from there.")


def page_error(request: Request, exc: DokazError) -> Response:
    """An error no page route answered itself (api.core.error_handlers calls this: a
    malformed address, a wrong method, a domain error), as a page in the language the page
    or form carries in its address."""
    page = Page.for_request(request)
    back = "/followup" if request.url.path.startswith("/followup") else "/report"
    if isinstance(exc, NotFound):
        return page.message(404, NOT_FOUND_HEADING, [NOT_FOUND_TEXT], back=back)
    return error_page(page, exc, back=back)
