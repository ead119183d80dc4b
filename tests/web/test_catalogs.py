"""The four catalogs are complete, consistent and up to date with the code.

Messages are extracted from ``api/web`` with Babel exactly as a translator would (using
``babel.cfg``); every extracted id must be in every catalog, translated, with the same
placeholders, and no catalog may keep ids the code no longer uses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from api.web.i18n import LANGUAGES, catalog_path, translations

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted_ids() -> set[str]:
    with (ROOT / "babel.cfg").open() as fh:  # babel is untyped
        method_map, options_map = parse_mapping_cfg(fh)  # type: ignore[no-untyped-call]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    ids: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


@pytest.fixture(scope="module")
def code_ids() -> set[str]:
    ids = extracted_ids()
    assert len(ids) > 100  # the extraction really found the templates and the code
    return ids


def load(lang: str) -> Catalog:
    with catalog_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_matches_the_code(lang: str, code_ids: set[str]) -> None:
    catalog_ids = {m.id for m in load(lang) if m.id}
    assert sorted(code_ids - catalog_ids) == [], "run the catalog update (see README)"
    assert sorted(catalog_ids - code_ids) == [], "obsolete messages left in the catalog"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_is_translated_with_the_same_placeholders(lang: str) -> None:
    for message in load(lang):
        if not message.id:
            continue
        assert isinstance(message.string, str) and message.string.strip(), message.id
        assert not message.fuzzy, message.id
        assert sorted(PLACEHOLDER.findall(message.string)) == sorted(
            PLACEHOLDER.findall(str(message.id))
        ), message.id
        if lang != "en":
            # A translated catalog that repeats English is a missing translation, except
            # for names and pure placeholders.
            letters = re.sub(r"%\(\w+\)s|Dokaz|SHA-256|Tor|Signal|\W|\d", "", str(message.id))
            if len(letters) > 3:
                assert message.string != message.id, (lang, message.id)


def test_compiled_catalogs_translate() -> None:
    assert translations("be").gettext("Report what happened") != "Report what happened"
    assert translations("uk").gettext("Year") == "Рік"
    assert translations("ru").gettext("Year") == "Год"
    assert translations("en").gettext("Year") == "Year"
