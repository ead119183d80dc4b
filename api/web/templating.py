"""Rendering the public pages: one Jinja2 environment per language.

Each language has its own environment with its catalog installed, so two requests in
different languages served by the same event loop can never mix translations.
Autoescaping is on everywhere; templates get no request object, only the values a page
needs (no path with identifiers, no headers).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from babel.support import Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from api.web import choices
from api.web.forms import FieldError
from api.web.i18n import LANGUAGES, Formatter, translations

TEMPLATES = Path(__file__).parent / "templates"


def html_environment(templates: Path, catalog: Translations) -> Environment:
    """Autoescaped, strict, with ``catalog`` installed: the public pages' and the staff
    console's environments are built the same way, each with its own templates."""
    env = Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    return env


@cache
def environment(lang: str) -> Environment:
    env = html_environment(TEMPLATES, translations(lang))
    fmt = Formatter(lang)
    env.globals.update(
        lang=lang,
        fmt=fmt,
        languages=[(code, fmt.language_name(code)) for code in LANGUAGES],
        options=lambda field: choices.options(field, lang),
        months=fmt.month_names(),
    )
    return env


def error_text(lang: str, error: FieldError) -> str:
    """One field error in the reader's language, numbers formatted locally."""
    fmt = Formatter(lang)
    message = translations(lang).gettext(error.message)
    if error.params:
        message = message % {k: v if isinstance(v, str) else fmt.number(v)
                             for k, v in error.params.items()}
    return message


def render(
    template: str, lang: str, *, status_code: int = 200, headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    env = environment(lang)
    html = env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=headers)
