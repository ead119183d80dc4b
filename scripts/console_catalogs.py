"""Refresh the console's catalogs from the code: `python scripts/console_catalogs.py`.

See api/console/catalogs.py; then translate the new (empty) entries in all four catalogs.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.console.catalogs import extracted, update
from api.console.i18n import LANGUAGES

if __name__ == "__main__":
    found = extracted()
    for code in LANGUAGES:
        update(code, found)
    print(f"{len(found)} messages in {len(LANGUAGES)} catalogs")
