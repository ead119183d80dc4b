"""docs/threat-model.md says what a seized server still reveals, column by column.

The table between the ``seized-columns`` markers must name every column of every table the
models declare, and nothing that no longer exists, so the document cannot fall behind the
schema.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import SQLModel

import api.models  # noqa: F401

DOC = Path(__file__).resolve().parents[1] / "docs" / "threat-model.md"
ROW = re.compile(r"^\|\s*`([a-z_]+)`\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*(.+?)\s*\|\s*$")


def documented() -> dict[str, set[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("<!-- seized-columns -->", 1)[1].split("<!-- /seized-columns -->", 1)[0]
    found: dict[str, set[str]] = {}
    for line in section.splitlines():
        match = ROW.match(line)
        if match is None or match.group(1) == "table":
            continue
        columns = {c.strip(" `") for c in match.group(2).split(",")}
        found.setdefault(match.group(1), set()).update(c for c in columns if c)
    return found


def test_every_column_is_documented_and_nothing_else() -> None:
    doc = documented()
    schema = {t.name: {c.name for c in t.columns} for t in SQLModel.metadata.sorted_tables}
    missing = {t: sorted(cols - doc.get(t, set())) for t, cols in schema.items()}
    missing = {t: c for t, c in missing.items() if c}
    stale = {t: sorted(cols - schema.get(t, set())) for t, cols in doc.items()}
    stale = {t: c for t, c in stale.items() if c}
    assert not missing, f"columns the threat model does not name: {missing}"
    assert not stale, f"columns the threat model names that do not exist: {stale}"
