"""Problems that stop a page from doing its job, explained to the person on a page."""

from __future__ import annotations

from starlette.responses import Response

from api.core.errors import DokazError, PayloadTooLarge, RateLimited, UnsupportedMediaType
from api.intake.files import BadFilename
from api.web import pages
from api.web.forms import FieldError
from api.web.pages import Page


def error_page(page: Page, exc: DokazError, *, kept_text: str = "", back: str = "/report",
                ) -> Response:
    if isinstance(exc, PayloadTooLarge):
        return page.message(413, pages.TOO_LARGE_HEADING, [pages.TOO_LARGE_TEXT],
                            kept_text=kept_text, back=back)
    if isinstance(exc, RateLimited):
        return page.message(429, pages.RATE_HEADING, [pages.RATE_TEXT], kept_text=kept_text,
                            back=back, headers={"Retry-After": str(exc.retry_after)})
    if exc.status_code >= 500:
        return page.message(exc.status_code, pages.UNAVAILABLE_HEADING,
                            [pages.UNAVAILABLE_TEXT], kept_text=kept_text, back=back)
    return page.message(400, pages.BAD_REQUEST_HEADING, [pages.BAD_REQUEST_TEXT],
                        kept_text=kept_text, back=back)


def file_error(exc: DokazError) -> FieldError:
    """What went wrong while files arrived, for the person who sent them."""
    if isinstance(exc, PayloadTooLarge):
        return FieldError("files", pages.FILES_TOO_LARGE)
    if isinstance(exc, UnsupportedMediaType):
        return FieldError("files", pages.FILE_TYPE_MISMATCH)
    if isinstance(exc, BadFilename):
        return FieldError("files", pages.FILE_NAME_REFUSED)
    if isinstance(exc, RateLimited):
        return FieldError("files", pages.RATE_TEXT)
    return FieldError("files", pages.FILES_INCOMPLETE)
