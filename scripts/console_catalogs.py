"""Refresh the console's catalogs from the code: `python scripts/console_catalogs.py`.

Extracts the console's messages (api/console/babel.cfg) and updates the four catalogs,
keeping translations already there; new ids get an empty translation (which the catalog
test refuses until a translator fills it) and obsolete ones are dropped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.console.i18n import LANGUAGES, catalog_path  # noqa: E402

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def extracted() -> list[str]:
    with (ROOT / "api/console/babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)  # type: ignore[no-untyped-call]
    ids: list[str] = []
    for _f, _l, message, _c, _x in extract_from_dir(str(ROOT), method_map, options_map,
                                                     keywords=KEYWORDS):
        mid = message if isinstance(message, str) else message[0]
        if mid not in ids:
            ids.append(mid)
    return ids


def update(lang: str, ids: list[str], extra: dict[str, str] | None = None) -> None:
    path = catalog_path(lang)
    old: dict[str, str] = {}
    if path.exists() and path.stat().st_size:
        with path.open("rb") as fh:
            old = {str(m.id): str(m.string) for m in read_po(fh, locale=lang) if m.id}
    catalog = Catalog(locale=lang, domain="console", project="Dokaz", version="1",
                      copyright_holder="Dokaz contributors", fuzzy=False)
    for mid in ids:
        flags = ("python-format",) if "%(" in mid else ()
        text = (extra or {}).get(mid) or old.get(mid) or (mid if lang == "en" else "")
        catalog.add(mid, text, flags=flags)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=True)


if __name__ == "__main__":
    found = extracted()
    for code in LANGUAGES:
        update(code, found)
    print(f"{len(found)} messages in {len(LANGUAGES)} catalogs")
