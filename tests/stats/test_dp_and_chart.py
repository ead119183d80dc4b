"""DP noise is calibrated and distributed as claimed; the SVG chart is self-contained."""

from __future__ import annotations

import statistics
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from api.core.errors import RateLimited
from api.stats import chart, dp
from api.stats.limits import PullLimiter


@pytest.mark.parametrize(("sensitivity", "epsilon"), [(1, 1.0), (4, 0.5), (8, 2.0)])
def test_discrete_laplace_noise_matches_its_distribution(sensitivity: int, epsilon: float
                                                         ) -> None:
    n = 20_000
    draws = dp.raw_noise(n, sensitivity=sensitivity, epsilon=epsilon)
    scale = sensitivity / epsilon
    var = dp.discrete_laplace_variance(scale)
    assert abs(var - 2 * scale**2) / (2 * scale**2) < 0.15  # ≈ 2 (Δ/ε)^2
    # Mean 0 within 4 standard errors; variance within 10 %.
    assert abs(statistics.fmean(draws)) < 4 * (var / n) ** 0.5
    assert abs(statistics.pvariance(draws) - var) / var < 0.10
    # Kolmogorov-Smirnov distance to the exact CDF, against the 1 % critical value.
    counts = Counter(draws)
    seen, worst = 0, 0.0
    for value in sorted(counts):
        seen += counts[value]
        worst = max(worst, abs(seen / n - dp.discrete_laplace_cdf(value, scale)))
    assert worst < 1.63 / n**0.5
    # Symmetric: as many draws above 0 as below, within 4 standard errors.
    above = sum(1 for d in draws if d > 0)
    below = sum(1 for d in draws if d < 0)
    assert abs(above - below) < 4 * (n**0.5)


def test_opendp_certifies_the_epsilon_we_charge() -> None:
    for sensitivity, epsilon in [(1, 0.1), (6, 0.5), (10, 1.0)]:
        assert dp.privacy_loss(sensitivity, epsilon) <= epsilon * (1 + 1e-9)


def test_noisy_counts_are_clamped_and_inputs_checked() -> None:
    out = dp.noisy_counts([0] * 500, sensitivity=5, epsilon=0.1)
    assert min(out) == 0 and max(out) > 0
    assert dp.noisy_counts([], sensitivity=1, epsilon=1.0) == []
    with pytest.raises(ValueError):
        dp.noisy_counts([-1], sensitivity=1, epsilon=1.0)
    with pytest.raises(ValueError):
        dp.scale_for(1, 0.0)
    with pytest.raises(ValueError):
        dp.scale_for(0, 1.0)


def test_chart_breaks_lines_at_hidden_months_and_has_no_external_parts() -> None:
    months = ["2021-01", "2021-02", "2021-03", "2021-04", "2021-05"]
    svg = chart.render("Detentions <by> month", months,
                       [chart.Series("Arrest", (12, 15, None, 20, 22)),
                        chart.Series("Torture", (None, None, None, None, None))],
                       ["Caption & note"])
    root = ET.fromstring(svg)  # noqa: S314 (our own output)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    paths = [p.get("d", "") for p in root.iter(f"{ns}path")]
    assert len(paths) == 1 and paths[0].count("M") == 2  # two runs around the gap
    assert len(list(root.iter(f"{ns}circle"))) == 4
    texts = "".join(t.text or "" for t in root.iter(f"{ns}text"))
    assert "Detentions <by> month" in texts and "Caption & note" in texts
    for bad in ("<script", "href", "url(", "@import", "<image", "<foreignObject"):
        assert bad not in svg


def test_nice_ticks() -> None:
    assert chart.nice_ticks(0) == [0, 1]
    assert chart.nice_ticks(7)[-1] >= 7
    assert chart.nice_ticks(1234) == [0, 500, 1000, 1500]


def test_pull_limiter_counts_per_key_in_a_sliding_hour() -> None:
    import uuid

    now = [1000.0]
    limiter = PullLimiter(2, clock=lambda: now[0])
    key, other = uuid.uuid4(), uuid.uuid4()
    limiter.check(key)
    limiter.check(key)
    limiter.check(other)
    with pytest.raises(RateLimited) as exc:
        limiter.check(key)
    assert exc.value.retry_after == 3601
    now[0] += 3601
    limiter.check(key)
