"""Differential privacy for partner pulls: discrete Laplace noise on integer counts (OpenDP).

A DP pull releases a vector of counts (the cells a partner asked for). Each table bounds
what one person can add to it (``TableSpec.max_contributions``, enforced in the SQL that
counts), so the vector's L1 sensitivity is that bound ``C``. OpenDP's Laplace
mechanism on an integer vector domain is the discrete Laplace (two-sided geometric)
mechanism; with scale ``C / epsilon`` it is ``epsilon``-DP under the L1 metric, which we
check with OpenDP's own privacy map before drawing (never trusting our arithmetic alone).

Everything after the draw - clamping at 0, hiding noisy values below k, adding noisy cells
into totals - is post-processing and costs no budget. OpenDP does not keep a budget across
calls: the per-partner ledger (``StatsBudgetEntry``) does, and repeated identical queries
are answered from that ledger instead of drawing fresh noise that could be averaged away.

Variance of the discrete Laplace with scale ``b`` (``P(x) ∝ exp(-|x|/b)``) is
``2 q / (1 - q)^2`` with ``q = exp(-1/b)``; for large ``b`` that is ≈ ``2 b^2``, the
continuous Laplace's. Tests check the draws against it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from typing import Any


@cache
def _opendp() -> Any:
    """OpenDP, imported on first use: loading it costs every API process about 15 MiB of
    resident memory, and only organisations that switch a partner to DP ever draw noise
    (the memory target of an upload, bench/upload.py, counts what a process holds)."""
    import opendp.prelude as dp

    # OpenDP ships its integer Laplace under the "contrib" flag (reviewed code that has
    # not been through its formal proof process yet); we opt in knowingly, once.
    dp.enable_features("contrib")
    return dp


MAX_COUNT = 2**31 - 1  # OpenDP's integer domain here is i32


def scale_for(sensitivity: int, epsilon: float) -> float:
    if sensitivity < 1:
        raise ValueError("sensitivity must be at least 1")
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise ValueError("epsilon must be a positive number")
    return sensitivity / epsilon


@cache
def _measurement(scale: float) -> Any:
    dp = _opendp()
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    return space >> dp.m.then_laplace(scale=scale)


def privacy_loss(sensitivity: int, epsilon: float) -> float:
    """The epsilon OpenDP certifies for one release at this sensitivity and budget."""
    return float(_measurement(scale_for(sensitivity, epsilon)).map(sensitivity))


def noisy_counts(counts: Sequence[int], *, sensitivity: int, epsilon: float) -> list[int]:
    """Release ``counts`` with ``epsilon``-DP noise; values are clamped at 0 afterwards."""
    if not counts:
        return []
    if any(c < 0 or c > MAX_COUNT for c in counts):
        raise ValueError("counts must be between 0 and 2^31-1")
    scale = scale_for(sensitivity, epsilon)
    measurement = _measurement(scale)
    spent = float(measurement.map(sensitivity))
    # OpenDP rounds its map conservatively; allow only floating-point slack.
    if spent > epsilon * (1 + 1e-9):
        raise ValueError(f"calibration failed: OpenDP certifies {spent}, asked {epsilon}")
    drawn: list[int] = measurement(list(counts))
    return [max(0, int(x)) for x in drawn]


def raw_noise(n: int, *, sensitivity: int, epsilon: float) -> list[int]:
    """``n`` noise draws around 0, unclamped: for checking the distribution in tests."""
    drawn: list[int] = _measurement(scale_for(sensitivity, epsilon))([0] * n)
    return [int(x) for x in drawn]


def discrete_laplace_variance(scale: float) -> float:
    q = math.exp(-1.0 / scale)
    return 2 * q / (1 - q) ** 2


def discrete_laplace_cdf(x: int, scale: float) -> float:
    """P(X <= x) for the discrete Laplace with P(k) = (1-q)/(1+q) q^|k|."""
    q = math.exp(-1.0 / scale)
    if x < 0:
        return q ** (-x) / (1 + q)
    return 1 - q ** (x + 1) / (1 + q)
