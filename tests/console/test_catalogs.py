"""The console's four catalogs are complete, translated and up to date with its code.

Messages are extracted from ``api/console`` with Babel (``api/console/babel.cfg``), as
``scripts/console_catalogs.py`` does for a translator; an untranslated, fuzzy or
English-in-a-translation message fails, and so does an id the code no longer uses.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from api.console.i18n import LANGUAGES, catalog_path, translations

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from console_catalogs import extracted  # noqa: E402

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# Words that are the same in a translation as in English (names, codes, short terms).
SAME_ANYWHERE = {"spam"}


def load(lang: str) -> Catalog:
    with catalog_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang)


@pytest.fixture(scope="module")
def code_ids() -> set[str]:
    ids = set(extracted())
    assert len(ids) > 100  # the extraction really found the templates and the code
    return ids


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_matches_the_code(lang: str, code_ids: set[str]) -> None:
    catalog_ids = {str(m.id) for m in load(lang) if m.id}
    assert sorted(code_ids - catalog_ids) == [], "run scripts/console_catalogs.py"
    assert sorted(catalog_ids - code_ids) == [], "obsolete messages left in the catalog"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated_with_the_same_placeholders(lang: str) -> None:
    for message in load(lang):
        if not message.id:
            continue
        assert isinstance(message.string, str) and message.string.strip(), message.id
        assert not message.fuzzy, message.id
        assert sorted(PLACEHOLDER.findall(message.string)) == sorted(
            PLACEHOLDER.findall(str(message.id))), message.id
        if lang != "en" and str(message.id) not in SAME_ANYWHERE:
            letters = re.sub(r"%\(\w+\)s|Dokaz|SHA-256|\W|\d", "", str(message.id))
            if len(letters) > 3:
                assert message.string != message.id, (lang, message.id)


def test_compiled_catalogs_translate() -> None:
    assert translations("be").gettext("Queue") == "Чарга"
    assert translations("ru").gettext("Queue") == "Очередь"
    assert translations("uk").gettext("Queue") == "Черга"
    assert translations("en").gettext("Queue") == "Queue"
