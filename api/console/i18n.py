"""The console's languages: its own gettext catalogs, chosen per account.

The console speaks the four languages of the public form, but its messages are a
different set (a caseworker's words, not a frightened submitter's), so it keeps its own
catalogs (``api/console/i18n/<lang>/LC_MESSAGES/console.po``, extracted with
``api/console/babel.cfg``) and reuses the public pages' negotiation and local formatting.
A signed-in account's own language wins; before sign-in the page's ``lang`` parameter,
then Accept-Language.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final

from babel.support import Translations

from api.web.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Formatter,
    choose,
    compile_catalog,
    normalise,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "Formatter",
    "catalog_path",
    "choose",
    "normalise",
    "translations",
]

CATALOG_DIR: Final = Path(__file__).parent / "i18n"
DOMAIN: Final = "console"


def N_(message: str) -> str:
    """Marks a message id for extraction; it is translated when shown."""
    return message


def catalog_path(lang: str) -> Path:
    return CATALOG_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> Translations:
    """The compiled console catalog of one language (compiled once per process)."""
    return compile_catalog(catalog_path(lang), lang, DOMAIN)
