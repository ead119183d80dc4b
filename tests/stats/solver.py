"""An independent attacker: solve a published table's marginal equations exactly.

Given every cell of a table with its margins (``None`` where hidden), write one equation
per line (total = sum of its levels), move the published values to the right-hand side and
row-reduce over the rationals. A hidden cell is *determined* when the reduced system has
a row naming it alone: then the published numbers give its exact value away.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from fractions import Fraction

TOTAL = "*"
Coord = tuple[str, ...]


def lines(levels: Sequence[Sequence[str]]) -> list[list[Coord]]:
    """Every line of the augmented table, total last."""
    out: list[list[Coord]] = []
    full = [(*lv, TOTAL) for lv in levels]
    for dim in range(len(levels)):
        others = [full[i] if i != dim else ("",) for i in range(len(levels))]
        for fixed in itertools.product(*others):
            out.append([tuple(x if i == dim else fixed[i] for i in range(len(levels)))
                        for x in full[dim]])
    return out


def determined(cells: Mapping[Coord, int | None], levels: Sequence[Sequence[str]]
               ) -> dict[Coord, Fraction]:
    """Hidden cells whose value follows from the published ones, with that value."""
    hidden = sorted(c for c, v in cells.items() if v is None)
    index = {c: i for i, c in enumerate(hidden)}
    rows: list[list[Fraction]] = []
    for line in lines(levels):
        coeff = [Fraction(0)] * (len(hidden) + 1)
        touched = False
        for pos, cell in enumerate(line):
            sign = 1 if pos == len(line) - 1 else -1
            value = cells[cell]
            if value is None:
                coeff[index[cell]] += sign
                touched = True
            else:
                coeff[-1] -= sign * value
        if touched:
            rows.append(coeff)
    # Reduced row echelon form.
    pivot_row = 0
    n = len(hidden)
    for col in range(n):
        pivot = next((r for r in range(pivot_row, len(rows)) if rows[r][col] != 0), None)
        if pivot is None:
            continue
        rows[pivot_row], rows[pivot] = rows[pivot], rows[pivot_row]
        lead = rows[pivot_row][col]
        rows[pivot_row] = [x / lead for x in rows[pivot_row]]
        for r in range(len(rows)):
            if r != pivot_row and rows[r][col] != 0:
                f = rows[r][col]
                rows[r] = [a - f * b for a, b in zip(rows[r], rows[pivot_row], strict=True)]
        pivot_row += 1
    found: dict[Coord, Fraction] = {}
    for row in rows[:pivot_row]:
        nz = [i for i in range(n) if row[i] != 0]
        if len(nz) == 1:
            found[hidden[nz[0]]] = row[-1] / row[nz[0]]
    return found
