"""Rendering console pages: one Jinja2 environment per language, and the error pages.

Like the public pages (api/web/templating.py), each language has its own environment
with its catalog installed, autoescaping is on everywhere and templates get only the
values a page needs. Every page of a signed-in person carries that session's CSRF token
and the two times a session ends (idle and absolute), so neither surprises anyone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from api.auth.principals import Principal
from api.auth.roles import Role
from api.console import i18n, labels, session
from api.console.i18n import N_
from api.core.dependencies import app_settings
from api.core.errors import DokazError
from api.vocab import registry
from api.web import csrf as form_csrf  # the public pages' pre-session form token
from api.web.templating import html_environment

TEMPLATES = Path(__file__).parent / "templates"

READER_ROLES = frozenset({Role.COORDINATOR, Role.CASEWORKER, Role.LAWYER})
CASE_STAFF_ROLES = frozenset({Role.COORDINATOR, Role.CASEWORKER})


@cache
def environment(lang: str) -> Environment:
    env = html_environment(TEMPLATES, i18n.translations(lang))
    fmt = CachedFormatter(lang)
    env.globals.update(
        lang=lang, fmt=fmt,
        languages=[(code, fmt.language_name(code)) for code in i18n.LANGUAGES],
        sort_labels=labels.SORTS,
        direction_labels=labels.DIRECTIONS, approval_kinds=labels.APPROVAL_KINDS,
        field_labels=labels.FIELDS, person_roles=labels.PERSON_ROLES,
        vocab=functools.partial(_vocab_label, lang),
        options=functools.partial(_vocab_options, lang),
        state_label=functools.partial(_own_label, lang, "states"),
        role_label=functools.partial(_own_label, lang, "roles"),
        without=lambda mapping, key: {k: v for k, v in mapping.items() if k != key},
    )
    return env


@dataclass(frozen=True)
class CachedFormatter(i18n.Formatter):
    """The public pages' formatter, with days remembered: a queue shows the same few days
    on every row, and Babel's formatting is most of a page's rendering otherwise."""

    def date(self, value: date) -> str:
        return _format_day(self.lang, value)

    def number(self, value: int | float) -> str:
        return _format_number(self.lang, value)


@functools.lru_cache(maxsize=8192)
def _format_day(lang: str, value: date) -> str:
    return i18n.Formatter(lang).date(value)


@functools.lru_cache(maxsize=4096)
def _format_number(lang: str, value: int | float) -> str:
    return i18n.Formatter(lang).number(value)


@functools.lru_cache(maxsize=8192)
def _vocab_label(lang: str, vocab_id: str, code: str) -> str:
    try:
        return registry.label(vocab_id, code, cast(registry.Language, lang))
    except registry.UnknownTerm:
        return code


@functools.lru_cache(maxsize=256)
def _vocab_options(lang: str, vocab_id: str) -> list[tuple[str, str]]:
    """(code, label) of a vocabulary's current terms, for a page's choices."""
    return [(code, _vocab_label(lang, vocab_id, code)) for code in _vocab_codes(vocab_id)]


_OWN_LABELS = {"states": labels.STATES, "roles": labels.ROLES}


@functools.lru_cache(maxsize=1024)
def _own_label(lang: str, kind: str, code: str) -> str:
    """A state's or role's words in ``lang`` (plain text; the template escapes it)."""
    message = _OWN_LABELS[kind].get(code)
    return gettext(lang, message) if message else code


@cache
def _vocab_codes(vocab_id: str) -> list[str]:
    """A vocabulary's current codes in its own order (the order its editors chose)."""
    return [t.code for t in registry.get_vocabulary(vocab_id).terms if not t.deprecated]


@dataclass(frozen=True)
class Expiry:
    """When the session ends: after ``idle_minutes`` without a request, or at ``absolute``."""

    idle_minutes: int
    absolute: datetime


@dataclass
class Signed:
    """A signed-in person's page context."""

    me: Principal
    lang: str
    csrf: str
    expiry: Expiry | None = None

    @property
    def reads_cases(self) -> bool:
        return self.me.role in READER_ROLES


def render(template: str, lang: str, *, status_code: int = 200, signed: Signed | None = None,
           **context: Any) -> HTMLResponse:
    context.setdefault("title", "Dokaz")
    html = environment(lang).get_template(template).render(signed=signed, **context)
    return HTMLResponse(html, status_code=status_code)


def gettext(lang: str, message: str) -> str:
    return i18n.translations(lang).gettext(message)


def notice(request: Request, lang: str, notices: dict[str, str]) -> str:
    """The confirmation a redirect asked for (``?done=<key>``), in ``lang``; a key the
    page does not know shows nothing (the address bar names no content, only the key)."""
    key = request.query_params.get("done")
    return gettext(lang, notices[key]) if key in notices else ""


# ---- errors: the console's part of the one error renderer (api/core/error_handlers) ----

_HEADINGS: dict[int, str] = {
    400: N_("This request could not be processed"),
    401: N_("Please sign in"),
    403: N_("You cannot open this"),
    404: N_("Nothing was found here"),
    409: N_("Someone changed this at the same time"),
    413: N_("This form is too large"),
    415: N_("This form could not be read"),
    422: N_("Something in the form is not right"),
    429: N_("Too many attempts"),
    503: N_("The console is not available right now"),
}
_TEXTS: dict[int, str] = {
    400: N_("Go back and try again."),
    403: N_("Your role or your access to this case does not allow it. A coordinator can "
            "grant access to a case."),
    404: N_("It may have been merged into another case or removed. Go back to the queue."),
    409: N_("Reload the page to see the current version, then make your change again."),
    413: N_("Shorten the text and send it again."),
    415: N_("Send the form from its console page."),
    422: N_("Go back, correct the form and send it again."),
    429: N_("Wait a little and try again."),
    503: N_("Nothing was lost. Try again in a minute."),
}
TOO_MANY_WAIT = N_("Please wait %(seconds)s seconds before you try again.")


def page_language(request: Request) -> str:
    """The console's language for this request: the account's, else the browser's."""
    principal = getattr(request.state, "console_principal", None)
    account_lang = getattr(request.state, "console_language", None)
    if principal is not None and account_lang:
        return str(account_lang)
    return i18n.choose(request.query_params.get("lang"), request.headers.get("accept-language"))


def error_page(request: Request, exc: DokazError) -> Response:
    """A domain error on a console page, as a page in the reader's language.

    401 shows the sign-in form itself (and drops a stale cookie); the domain error's own
    English message is shown under the translated explanation, since it names what
    exactly went wrong (it never carries protected content: see api/core/errors.py)."""
    lang = page_language(request)
    status = exc.status_code
    if status == 401:
        response: Response = sign_in_page(request, lang, status_code=401,
                                          notice=gettext(lang, _HEADINGS[401]))
        session.clear_cookie(request, response)
        return response
    heading = _HEADINGS.get(status, _HEADINGS[503] if status >= 500 else _HEADINGS[400])
    text = _TEXTS.get(status, _TEXTS[503] if status >= 500 else _TEXTS[400])
    paragraphs = [gettext(lang, text)]
    retry_after = (exc.headers or {}).get("Retry-After")
    if status == 429 and retry_after:
        paragraphs.append(gettext(lang, TOO_MANY_WAIT) % {"seconds": retry_after})
    # A message the catalog knows (a workflow refusal the case page also names) is shown
    # in the reader's language, so the page and the refusal say the same thing.
    detail = gettext(lang, exc.message)
    response = render("message.html", lang, status_code=status, title=gettext(lang, heading),
                      heading=gettext(lang, heading), paragraphs=paragraphs,
                      detail=detail, detail_lang=lang if detail != exc.message else "en",
                      signed=None)
    for name, value in (exc.headers or {}).items():
        if name.lower() == "retry-after":
            response.headers[name] = value
    return response


def sign_in_page(request: Request, lang: str, *, status_code: int = 200, notice: str = "",
                 error: str = "", username: str = "") -> HTMLResponse:
    secret = app_settings(request).secret_key.get_secret_value()
    tokens = form_csrf.FormTokens(request, secret)
    response = render("sign_in.html", lang, status_code=status_code,
                      title=gettext(lang, N_("Sign in")), csrf=tokens.token(), notice=notice,
                      error=error, username=username)
    tokens.apply(response)
    return response
