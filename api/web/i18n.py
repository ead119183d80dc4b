"""Languages of the public pages: gettext catalogs, negotiation and local formatting.

Catalogs are Babel ``.po`` files under ``api/web/i18n/<lang>/LC_MESSAGES/web.po``; they
are compiled in memory when first used, so no binary ``.mo`` file can drift from its
source. Message ids are English; ``en`` has its own catalog so a wording change in the
code never silently changes what English readers see.

The language is never remembered by the server or a cookie (Tor Browser clears state, and
a stored preference would be one more trace on a seized phone). It comes, in order, from
the ``lang`` form field or query parameter the page itself carries, then from
Accept-Language, then Belarusian.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Final

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LANGUAGES: Final = ("be", "ru", "uk", "en")
DEFAULT_LANGUAGE: Final = "be"
CATALOG_DIR: Final = Path(__file__).parent / "i18n"
DOMAIN: Final = "web"


def N_(message: str) -> str:
    """Marks a message id for extraction; it is translated later, in the reader's language."""
    return message


def catalog_path(lang: str) -> Path:
    return CATALOG_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalog(path: Path, lang: str, domain: str) -> Translations:
    """A ``.po`` catalog compiled in memory (the public pages' and the staff console's)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported language {lang!r}")
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=domain)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf, domain=domain)


@cache
def translations(lang: str) -> Translations:
    """The compiled catalog of one language (compiled once per process)."""
    return compile_catalog(catalog_path(lang), lang, DOMAIN)


def normalise(value: str | None) -> str | None:
    """A supported language code from user input, or None."""
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The best supported language in an Accept-Language header (RFC 9110 q-values)."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:32]):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        code = normalise(tag)
        if code and quality > 0:
            ranked.append((-quality, index, code))
    return min(ranked)[2] if ranked else None


def choose(explicit: str | None, accept_language: str | None) -> str:
    return normalise(explicit) or from_accept_language(accept_language) or DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Formatter:
    """Dates, numbers and sizes written the way readers of ``lang`` expect."""

    lang: str

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.lang)

    def number(self, value: int | float) -> str:
        return format_decimal(value, locale=self.lang)

    def date(self, value: date) -> str:
        return format_date(value, format="long", locale=self.lang)

    def datetime(self, value: datetime) -> str:
        # Shown in UTC, and labelled so: the server does not know the reader's time zone.
        text = format_datetime(value, format="d MMMM y, HH:mm", tzinfo=None, locale=self.lang)
        return text + " UTC"

    def size(self, size: int) -> str:
        gettext = translations(self.lang).gettext
        units = (
            (1024 ** 3, N_("%(n)s GB"), "#,##0.##"),
            (1024 ** 2, N_("%(n)s MB"), "#,##0.#"),
            (1024, N_("%(n)s KB"), "#,##0.#"),
        )
        for unit, message, pattern in units:
            if size >= unit:
                number = format_decimal(size / unit, pattern, locale=self.lang)
                return gettext(message) % {"n": number}
        return gettext(N_("%(n)s bytes")) % {"n": self.number(size)}

    def month_names(self) -> list[str]:
        names = self.locale.months["stand-alone"]["wide"]
        return [str(names[i]) for i in range(1, 13)]

    def language_name(self, code: str) -> str:
        """A language's name in that language itself (how people find their own)."""
        return str(Locale.parse(code).display_name)
