"""Cell suppression: primary below k, and no hidden cell recoverable from any margin."""

from __future__ import annotations

import itertools
import random

import pytest

from api.stats.disclosure import TOTAL, Cube, box_is_valid, protect
from tests.stats.solver import determined, lines


def _random_cube(rng: random.Random, shape: tuple[int, ...], sparse: float) -> Cube:
    levels = [[f"{chr(97 + d)}{i}" for i in range(n)] for d, n in enumerate(shape)]
    interior = {}
    for coord in itertools.product(*levels):
        r = rng.random()
        interior[coord] = 0 if r < sparse else (rng.randint(1, 9) if r < 0.7 else
                                                 rng.randint(10, 60))
    return Cube.from_interior([f"d{i}" for i in range(len(shape))], levels, interior)


def _published(cube: Cube, hidden: frozenset[tuple[str, ...]]) -> dict[tuple[str, ...], int | None]:
    return {c: (None if c in hidden else n) for c, n in cube.counts.items()}


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("shape", [(4, 5), (3, 4, 5), (6, 2), (2, 2, 2)])
def test_no_small_cell_survives_and_none_can_be_solved_from_the_margins(
    seed: int, shape: tuple[int, ...]
) -> None:
    rng = random.Random(seed * 100 + len(shape))
    cube = _random_cube(rng, shape, sparse=rng.choice([0.1, 0.4, 0.7]))
    k = rng.choice([5, 10])
    result = protect(cube, k)
    # Primary: every published non-zero cell, interior or margin, has at least k persons.
    for coord, n in cube.counts.items():
        if coord not in result.suppressed:
            assert n == 0 or n >= k
    # Every primary cell has a witness box that is hidden, sums to zero on every line
    # (so every margin is still satisfied when it moves) and reaches k.
    assert set(result.witnesses) == set(result.primary)
    for box in result.witnesses.values():
        assert box_is_valid(cube, box, result.suppressed, k)
    # Independently: an exact solver of all marginal equations recovers no primary cell.
    solved = determined(_published(cube, result.suppressed), cube.levels)
    assert not set(solved) & result.primary
    for cell, value in solved.items():  # what it does recover is right, and not small
        assert value == cube.counts[cell] and (value == 0 or value >= k)


def test_single_small_cell_is_protected_by_complementary_cells() -> None:
    levels = [["a", "b", "c"], ["x", "y", "z"]]
    interior: dict[tuple[str, ...], int] = {
        ("a", "x"): 1, ("a", "y"): 20, ("a", "z"): 30, ("b", "x"): 25, ("b", "y"): 40,
        ("b", "z"): 35, ("c", "x"): 30, ("c", "y"): 22, ("c", "z"): 50}
    cube = Cube.from_interior(["r", "c"], levels, interior)
    result = protect(cube, 10)
    assert result.primary == {("a", "x")}
    assert len(result.suppressed) >= 4  # a box in two dimensions has four corners
    # Each line through a hidden cell has another hidden cell (no single-unknown line).
    for line in lines(cube.levels):
        hidden = [c for c in line if c in result.suppressed]
        assert len(hidden) != 1
    assert determined(_published(cube, result.suppressed), cube.levels) == {}


def test_margin_below_k_is_hidden_with_its_parts() -> None:
    levels = [["a", "b"], ["x", "y", "z"]]
    interior: dict[tuple[str, ...], int] = {
        ("a", "x"): 2, ("a", "y"): 3, ("b", "x"): 40, ("b", "y"): 50, ("b", "z"): 60}
    cube = Cube.from_interior(["r", "c"], levels, interior)
    result = protect(cube, 10)
    assert ("a", TOTAL) in result.primary  # the row total 5 is itself a small cell
    assert determined(_published(cube, result.suppressed), cube.levels).keys().isdisjoint(
        result.primary)


def test_protection_is_deterministic_and_zeros_stay_published() -> None:
    rng = random.Random(7)
    cube = _random_cube(rng, (5, 4, 3), sparse=0.5)
    first, second = protect(cube, 10), protect(cube, 10)
    assert first.suppressed == second.suppressed
    zeros_hidden = [c for c in first.primary if cube.counts[c] == 0]
    assert zeros_hidden == []


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="outside the grid"):
        Cube.from_interior(["a"], [["x"]], {("y",): 1})
    with pytest.raises(ValueError, match="negative"):
        Cube.from_interior(["a"], [["x"]], {("x",): -1})
    with pytest.raises(ValueError, match="total marker"):
        Cube.from_interior(["a"], [["*"]], {})
    with pytest.raises(ValueError):
        protect(Cube.from_interior(["a"], [["x"]], {}), 1)
