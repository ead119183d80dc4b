"""What every public page needs: its language, its CSRF token, and error pages.

Kept apart from the routes so each route reads as: check, call the service, render.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from api.core.dependencies import app_settings
from api.core.settings import Settings
from api.web import csrf, i18n
from api.web.forms import FieldError
from api.web.i18n import N_
from api.web.templating import error_text, render


@dataclass
class Page:
    """One rendering of a page in one language, with a fresh form token."""

    request: Request
    settings: Settings
    lang: str

    @classmethod
    def for_request(cls, request: Request, explicit_lang: str | None = None) -> Page:
        settings = app_settings(request)
        lang = i18n.choose(
            explicit_lang or request.query_params.get("lang"),
            request.headers.get("accept-language"),
        )
        return cls(request, settings, lang)

    def gettext(self, message: str) -> str:
        return i18n.translations(self.lang).gettext(message)

    def render(
        self, template: str, *, status_code: int = 200, switcher_path: str | None = None,
        errors: list[FieldError] | None = None, **context: Any,
    ) -> HTMLResponse:
        tokens = csrf.FormTokens(self.request, self.settings.secret_key.get_secret_value())
        field_errors: dict[str, str] = {}
        for error in errors or []:
            field_errors.setdefault(error.field, error_text(self.lang, error))
        context.setdefault("title", "Dokaz")
        response = render(
            template, self.lang, status_code=status_code,
            csrf=tokens.token(), switcher_path=switcher_path,
            errors=list(field_errors.items()), field_errors=field_errors,
            files_dropped=context.pop("files_dropped", False), **context,
        )
        tokens.apply(response)
        return response

    def message(
        self, status_code: int, heading: str, paragraphs: list[str], *,
        kept_text: str = "", back: str = "/report", headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> HTMLResponse:
        back_label = {
            "/report": N_("Back to the form"),
            "/followup": N_("Back to the follow-up page"),
        }.get(back, N_("Back to the form"))
        response = self.render(
            "message.html", status_code=status_code, title=self.gettext(heading),
            heading=self.gettext(heading),
            paragraphs=[self.gettext(p) % params if params else self.gettext(p)
                        for p in paragraphs],
            kept_text=kept_text, back_href=f"{back}?lang={self.lang}",
            back_label=self.gettext(back_label),
        )
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response


CSRF_HEADING = N_("This form has expired")
CSRF_TEXT = N_(
    "For your protection, a form can be sent only from this site and only for a limited "
    "time after it was opened. Your text is shown below: check it and send again. Files "
    "were not kept: choose them again."
)
CROSS_SITE_TEXT = N_(
    "This form was sent from another website, so it was not accepted. Open the form on "
    "this site and send it from there."
)
TOO_LARGE_HEADING = N_("The files are too large")
TOO_LARGE_TEXT = N_(
    "What you sent is larger than we can accept at once. Nothing was kept. Send fewer or "
    "smaller files, or send the report first and add files later with your receipt."
)
RATE_HEADING = N_("Please wait a little")
RATE_TEXT = N_(
    "Too many attempts came from this connection in a short time. Please wait and try "
    "again later. Nothing you sent was kept from this attempt."
)
UNAVAILABLE_HEADING = N_("The service is temporarily unavailable")
UNAVAILABLE_TEXT = N_(
    "Something went wrong on our side. Nothing from this attempt was kept; please try "
    "again in a few minutes."
)
NOT_SET_UP_HEADING = N_("Reports cannot be received yet")
NOT_SET_UP_TEXT = N_(
    "This service is not ready to receive reports: its administrators have not finished "
    "setting it up. Nothing was sent or kept. Please come back later."
)
NOT_SET_UP_ADMIN_TEXT = N_(
    "For the administrators: the organisation recovery key is missing. Run %(generate)s on "
    "an offline computer and %(import)s on the server, or %(init)s on the server's terminal."
)
# The commands are not translated: an administrator types them as they are.
NOT_SET_UP_COMMANDS = {"generate": "dokaz keys generate", "import": "dokaz keys import-public",
                       "init": "dokaz keys init"}
BAD_REQUEST_HEADING = N_("The form could not be read")
BAD_REQUEST_TEXT = N_(
    "What the browser sent was incomplete or damaged, maybe because the connection broke. "
    "Nothing was kept; please open the form and try again."
)
FILES_TOO_LARGE = N_(
    "The files were too large or too many (the limits are shown under the field). Your "
    "text is kept, but no file was: choose fewer or smaller files, or send the report now "
    "and add files later with your receipt."
)
# A file is judged by what it is (api/ingress/filetypes.py): only a refused type stops it.
FILE_REFUSED_PROGRAM = N_(
    "%(name)s was not accepted: it is a program, and programs are not accepted because "
    "opening one could harm the computer of the person who reads your report. Your text "
    "is kept, but no file was: choose the other files again and send."
)
FILE_REFUSED_TYPE = N_(
    "%(name)s was not accepted: files of its type (%(type)s) are not received here. Your "
    "text is kept, but no file was: choose the other files again and send."
)
FILE_REFUSED = N_(
    "A file was not accepted because of what it contains. Your text is kept, but no file "
    "was: check the files and choose them again."
)
TIMEOUT_HEADING = N_("Sending took too long")
TIMEOUT_TEXT = N_(
    "The connection was too slow or stopped for too long, so what you sent was not "
    "received. Nothing was kept; please try again, with fewer or smaller files if the "
    "connection is slow."
)
FILE_NAME_REFUSED = N_(
    "A file name could not be accepted (it is very long or contains special characters). "
    "Your text is kept, but no file was: rename the file and choose it again."
)
FILES_INCOMPLETE = N_(
    "The files did not arrive completely, maybe because the connection broke. Your text "
    "is kept, but no file was: choose the files again and send."
)
