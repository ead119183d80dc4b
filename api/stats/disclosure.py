"""Disclosure control for published count tables: primary and secondary cell suppression.

A table is a full grid (every combination of its dimension levels, zeros included) plus
every margin: each dimension also has a total level ``TOTAL`` ("*"), so a 3-dimensional
table with levels n1 x n2 x n3 is published as (n1+1) x (n2+1) x (n3+1) cells. Margins are
true totals, so a partner can write one linear equation per *line* (a dimension varied,
the others fixed): ``cell(..., *, ...) = sum over levels of cell(..., l, ...)``.

Primary suppression: every cell (interior or margin) with ``0 < count < k``.

Secondary suppression (the hypercube method, as in tau-argus' GHMITER): for each primary
cell ``a`` we suppress every corner of a box spanning all dimensions, one other coordinate
``b_j`` per dimension (a level or the total). Give corner ``c`` the sign
``prod_j s_j`` over the dimensions where it takes ``b_j``, with ``s_j = -1`` when both
``a_j`` and ``b_j`` are levels and ``+1`` when one of them is the total. Every line then
holds exactly two corners whose contributions cancel, so this signed box ``z`` satisfies
every marginal equation: adding ``t * z`` to the true table gives another table that fits
everything published. Hence no suppressed cell can be solved from the margins, and the
published data stay consistent with the primary cell taking any value in
``[v - m+, v + m-]`` (``m+``/``m-``: the smallest count on a +/- corner). We choose the
cheapest box (fewest suppressed persons) for which ``v + m- >= k``: *the published table
cannot tell the small cell from one of size k*. A box using only totals has no negative
corner, so a protecting box always exists. The box chosen for each primary cell is kept
as its ``witness``: tests re-check every witness against every margin.

Zeros are published: a zero is not a person. (A primary cell's box never uses a zero
corner, because a corner the partner can see is empty protects nothing.)

Everything here is pure and deterministic (same table, same k -> same pattern), so
repeated refreshes of unchanged data publish the same cells.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

TOTAL = "*"
Coord = tuple[str, ...]

# How many alternative coordinates per dimension the box search tries; 3 dimensions x 4
# candidates is 64 boxes of 8 corners per primary cell, well under a millisecond.
_CANDIDATES_PER_DIM = 4


@dataclass(frozen=True)
class Box:
    """The signed corners that protect one primary cell (a witness, see module docstring)."""

    primary: Coord
    corners: tuple[tuple[Coord, int], ...]  # (cell, sign +1/-1); the primary has +1


@dataclass
class Cube:
    """A count table with every margin; ``counts`` holds every augmented cell."""

    dims: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    counts: dict[Coord, int] = field(default_factory=dict)

    @classmethod
    def from_interior(
        cls,
        dims: Sequence[str],
        levels: Sequence[Sequence[str]],
        interior: Mapping[Coord, int],
    ) -> Cube:
        """Build the full grid plus margins from interior counts (missing cells are 0)."""
        lv = tuple(tuple(x) for x in levels)
        for values in lv:
            if TOTAL in values or len(set(values)) != len(values):
                raise ValueError("levels must be distinct and may not use the total marker")
        level_sets = [set(v) for v in lv]
        counts: dict[Coord, int] = {
            c: 0 for c in itertools.product(*[(*v, TOTAL) for v in lv])
        }
        masks = list(itertools.product((False, True), repeat=len(lv)))
        for coord, value in interior.items():
            if value < 0:
                raise ValueError("counts cannot be negative")
            if not value:
                continue
            if any(x not in s for x, s in zip(coord, level_sets, strict=True)):
                raise ValueError(f"cell {coord!r} is outside the grid")
            for mask in masks:
                key = tuple(TOTAL if m else x for x, m in zip(coord, mask, strict=True))
                counts[key] += value
        return cls(tuple(dims), lv, counts)

    def line(self, coord: Coord, dim: int) -> list[Coord]:
        """Cells of the line through ``coord`` along ``dim``, total last."""
        return [
            (*coord[:dim], x, *coord[dim + 1 :]) for x in (*self.levels[dim], TOTAL)
        ]


@dataclass
class Protection:
    """The outcome: which cells are hidden, why, and the witness box of each primary."""

    k: int
    primary: frozenset[Coord]
    suppressed: frozenset[Coord]
    witnesses: dict[Coord, Box]

    @property
    def secondary(self) -> frozenset[Coord]:
        return self.suppressed - self.primary


def protect(cube: Cube, k: int) -> Protection:
    """Primary suppression below ``k`` and hypercube secondary suppression (see above)."""
    if k < 2:
        raise ValueError("k must be at least 2")
    counts = cube.counts
    primary = frozenset(c for c, v in counts.items() if 0 < v < k)
    suppressed: set[Coord] = set(primary)
    witnesses: dict[Coord, Box] = {}
    lines: dict[tuple[int, Coord], list[Coord]] = {}
    # Largest primary cells first: their boxes are the hardest to find and the boxes they
    # suppress often protect the smaller cells for free.
    for cell in sorted(primary, key=lambda c: (-counts[c], c)):
        box = _best_box(cube, cell, suppressed, k, lines)
        witnesses[cell] = box
        suppressed.update(c for c, _ in box.corners)
    return Protection(k, primary, frozenset(suppressed), witnesses)


def _corners(a: Coord, b: Sequence[str]) -> list[tuple[Coord, int]]:
    """The box's corners in mask order (``a``'s coordinate first in every dimension), each
    with its sign (see the module docstring). The hot loop of ``protect``: coordinates come
    from ``itertools.product`` and the signs from a table per pattern of levels."""
    flips = tuple(x != TOTAL and y != TOTAL for x, y in zip(a, b, strict=True))
    return list(zip(itertools.product(*zip(a, b, strict=True)), _signs(flips), strict=True))


@functools.cache
def _signs(flips: tuple[bool, ...]) -> tuple[int, ...]:
    """Corner signs in mask order: -1 per dimension where the corner takes ``b_j`` and
    ``flips[j]`` (both ``a_j`` and ``b_j`` are levels)."""
    out = []
    for mask in itertools.product((False, True), repeat=len(flips)):
        sign = 1
        for taken, flip in zip(mask, flips, strict=True):
            if taken and flip:
                sign = -sign
        out.append(sign)
    return tuple(out)


def _candidates(cube: Cube, a: Coord, dim: int, suppressed: set[Coord], k: int,
                lines: dict[tuple[int, Coord], list[Coord]]) -> list[str]:
    counts = cube.counts
    v = counts[a]
    key = (dim, (*a[:dim], TOTAL, *a[dim + 1 :]))
    line = lines.get(key)
    if line is None:  # non-empty cells of this line, smallest first (counts never change)
        line = sorted((c for c in cube.line(a, dim) if counts[c] > 0),
                      key=lambda c: (counts[c], c))
        lines[key] = line
    options: list[str] = []
    if a[dim] != TOTAL:
        options.append(TOTAL)  # always possible (positive corner); the fallback box
    hidden = [c[dim] for c in line if c in suppressed and c != a][:2]
    # An unsuppressed cell big enough to cover the gap up to k as a negative corner, then
    # the smallest non-empty one.
    open_cells = [c for c in line if c not in suppressed and c != a]
    options += hidden
    options += [c[dim] for c in open_cells if counts[c] >= k - v][:1]
    options += [c[dim] for c in open_cells[:1]]
    seen: list[str] = []
    for x in options:
        if x not in seen and x != a[dim]:
            seen.append(x)
    return seen[:_CANDIDATES_PER_DIM]


def _best_box(cube: Cube, a: Coord, suppressed: set[Coord], k: int,
              lines: dict[tuple[int, Coord], list[Coord]]) -> Box:
    counts = cube.counts
    v = counts[a]
    per_dim = [_candidates(cube, a, j, suppressed, k, lines) for j in range(len(a))]
    best: tuple[int, int, int, int] | None = None
    best_corners: list[tuple[Coord, int]] = []
    boxes = itertools.chain(itertools.product(*per_dim), [_fallback(cube, a)])
    for b in boxes:
        corners = _corners(a, b)
        # Once a box protects fully, a box hiding more persons can never win: stop reading
        # its corners as soon as its cost passes (the same choice, found sooner).
        bound = best[2] if best is not None and best[0] == best[1] == 0 else -1
        m_plus = m_minus = 0  # 0: none yet (every usable corner holds at least 1)
        cost = new_cells = 0
        usable = True
        for coord, sign in corners:
            n = counts[coord]
            if n == 0:  # an empty corner visible to the partner protects nothing
                usable = False
                break
            if sign > 0:
                if not m_plus or n < m_plus:
                    m_plus = n
            elif not m_minus or n < m_minus:
                m_minus = n
            if coord not in suppressed:
                cost += n
                new_cells += 1
                if cost > bound >= 0:
                    usable = False
                    break
        if not usable:
            continue
        reaches_k = not m_minus or v + m_minus >= k
        hides_zero = m_plus >= v
        # Protection first, then the fewest persons hidden, then the fewest cells.
        score = (0 if reaches_k else 1, 0 if hides_zero else 1, cost, new_cells)
        if best is None or score < best:
            best, best_corners = score, corners
            if score == (0, 0, 0, 0):
                break  # fully protected by cells that are hidden already
    if best is None:  # pragma: no cover - the fallback box never has an empty corner
        raise AssertionError("no protecting box found")
    return Box(a, tuple(best_corners))


def _fallback(cube: Cube, a: Coord) -> tuple[str, ...]:
    """The box that always protects: totals where ``a`` has a level, and where ``a`` is a
    total, the level of one non-empty interior cell ``c`` under ``a``. Every corner then
    contains ``c`` (so none is empty) and every sign is +1 (so nothing bounds it above)."""
    c = list(a)
    for j, x in enumerate(a):
        if x == TOTAL:
            for cell in cube.line(tuple(c), j)[:-1]:
                if cube.counts[cell] > 0:
                    c[j] = cell[j]
                    break
    return tuple(TOTAL if x != TOTAL else c[j] for j, x in enumerate(a))


def box_is_valid(cube: Cube, box: Box, suppressed: Iterable[Coord], k: int) -> bool:
    """Check a witness from scratch: hidden, in the kernel of every line, reaching k."""
    hidden = set(suppressed)
    z = dict(box.corners)
    if z.get(box.primary) != 1 or not all(c in hidden for c in z):
        return False
    for coord in z:
        for dim in range(len(coord)):
            line = cube.line(coord, dim)
            total = z.get(line[-1], 0) - sum(z.get(c, 0) for c in line[:-1])
            if total != 0:
                return False
    v = cube.counts[box.primary]
    minus = [cube.counts[c] for c, s in z.items() if s < 0]
    return not minus or v + min(minus) >= k
