"""Rendering a pull as JSON or CSV, with codes *and* labels in the partner's language.

JSON::

    {"table": "acts_by_type_region_month", "title": ..., "unit": ..., "language": "en",
     "release": {"id": ..., "created_at": ..., "months": ["2020-01", "2026-01"]},
     "method": {"mode": "suppressed", "min_cell": 10, ...},
     "dimensions": [{"id": "act_type", "name": "Act type"}, ...],
     "cells": [{"act_type": {"code": "arrest", "label": "Arrest"}, ...,
                "value": 37, "suppressed": false}, ...],
     "suppressed_cells": 12, "footnotes": ["..."]}

A code ``*`` is the total over that dimension (label "Total"). A suppressed cell has
``"value": null``. CSV has one column pair (code, label) per kept dimension, then
``value`` and ``suppressed``; it is produced row by row, so large tables stream.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from api.stats.catalogue import EARLIER, MONTH, UNKNOWN, Dimension
from api.stats.disclosure import TOTAL
from api.stats.service import TableResult
from api.vocab.registry import Language, get_vocabulary, label

SPECIAL: dict[str, dict[str, str]] = {
    TOTAL: {"en": "Total", "be": "Усяго", "ru": "Всего", "uk": "Усього"},
    UNKNOWN: {"en": "Unknown", "be": "Невядома", "ru": "Неизвестно", "uk": "Невідомо"},
    EARLIER: {"en": "Earlier", "be": "Раней", "ru": "Ранее", "uk": "Раніше"},
}
MONTH_NAME = {"en": "Month", "be": "Месяц", "ru": "Месяц", "uk": "Місяць"}


def dim_name(dim: Dimension, lang: Language) -> str:
    if dim.vocab is None:
        return MONTH_NAME[lang]
    return get_vocabulary(dim.vocab).name.get(lang)


def code_label(dim: Dimension, code: str, lang: Language) -> str:
    if code in SPECIAL and (dim.vocab is None or not get_vocabulary(dim.vocab).has(code)):
        return SPECIAL[code][lang]
    if dim.vocab is None:
        return code  # a month, YYYY-MM
    return label(dim.vocab, code, lang)


def footnotes(result: TableResult) -> list[str]:
    notes = [
        f"Counting unit: {result.spec.unit}. Only victims who consented to anonymised "
        "statistics, in cases that passed review, are counted.",
        f"One person adds to at most {result.spec.max_contributions} cell(s) of this table.",
        "Regions are oblasts (ISO 3166-2:BY); months are when events began; ages are "
        "10-year bands.",
    ]
    if result.mode == "dp":
        notes.append(
            f"Counts carry random noise (differential privacy, discrete Laplace, "
            f"ε={result.epsilon:g} per pull); totals are sums of the noisy cells; noisy "
            f"values below {result.min_cell} are not shown.")
    else:
        notes.append(
            f"Cells with fewer than {result.min_cell} persons are not shown, nor are other "
            "cells that would let them be worked out from totals. A total over a period "
            "or a subset of codes is not shown when any part of it is hidden.")
    return notes


def as_json(result: TableResult, lang: Language) -> dict[str, Any]:
    months = [m for m in _months(result) if m not in (EARLIER, UNKNOWN)]
    cells = []
    for cell in result.cells:
        entry: dict[str, Any] = {
            d.id: {"code": c, "label": code_label(d, c, lang)}
            for d, c in zip(result.kept, cell.coords, strict=True)
        }
        entry["value"] = cell.value
        entry["suppressed"] = cell.suppressed
        cells.append(entry)
    method: dict[str, Any] = {"mode": result.mode, "min_cell": result.min_cell,
                              "max_contributions": result.spec.max_contributions}
    if result.mode == "dp":
        method.update(epsilon=result.epsilon, epsilon_budget=result.budget,
                      epsilon_remaining=result.budget_remaining, repeated=result.cached)
    return {
        "table": result.spec.id,
        "title": result.spec.title,
        "unit": result.spec.unit,
        "language": lang,
        "release": {"id": str(result.release.id),
                    "created_at": result.release.created_at.isoformat(),
                    "months": [months[0], months[-1]] if months else []},
        "filters": {d: list(v) for d, v in result.query.filters},
        "method": method,
        "dimensions": [{"id": d.id, "name": dim_name(d, lang)} for d in result.kept],
        "cells": cells,
        "suppressed_cells": result.suppressed_count,
        "footnotes": footnotes(result),
    }


def _months(result: TableResult) -> list[str]:
    y, m = (int(x) for x in result.release.first_month.split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= result.release.last_month:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def csv_rows(result: TableResult, lang: Language) -> Iterator[str]:
    """The CSV, one line at a time (UTF-8 with a BOM so spreadsheets read Cyrillic)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        out = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return out

    header: list[str] = []
    for d in result.kept:
        header += [d.id, dim_name(d, lang)]
    writer.writerow([*header, "value", "suppressed"])
    yield "\ufeff" + flush()
    for cell in result.cells:
        row: list[str] = []
        for d, c in zip(result.kept, cell.coords, strict=True):
            row += [c, code_label(d, c, lang)]
        writer.writerow([*row, "" if cell.value is None else str(cell.value),
                         "true" if cell.suppressed else "false"])
        yield flush()


def as_svg(result: TableResult, lang: Language) -> str:
    """The result (kept dims: month, optionally one series dimension) as an SVG chart."""
    from api.stats import chart

    month_i = next(i for i, d in enumerate(result.kept) if d.id == MONTH)
    series_dim = next((d for d in result.kept if d.id != MONTH), None)
    months = sorted({c.coords[month_i] for c in result.cells} - {TOTAL, EARLIER, UNKNOWN})
    by_series: dict[str, dict[str, int | None]] = {}
    for cell in result.cells:
        month = cell.coords[month_i]
        if month not in months:
            continue
        key = TOTAL if series_dim is None else cell.coords[1 - month_i]
        if series_dim is not None and key == TOTAL:
            continue
        by_series.setdefault(key, {})[month] = cell.value
    dim = series_dim or result.kept[month_i]
    series = [chart.Series(code_label(dim, code, lang) if series_dim else SPECIAL[TOTAL][lang],
                           tuple(values.get(m) for m in months))
              for code, values in by_series.items()]
    hidden = "gaps: months hidden to protect people" if result.mode != "dp" else (
        f"noisy counts (differential privacy, ε={result.epsilon:g}); gaps: below "
        f"{result.min_cell}")
    caption = [
        f"{result.spec.unit[:1].upper()}{result.spec.unit[1:]}; {hidden}.",
        f"Source: Dokaz anonymised statistics, release of "
        f"{result.release.created_at.date().isoformat()}; cells under {result.min_cell} "
        "are not shown.",
    ]
    return chart.render(result.spec.title, months, series, caption)
