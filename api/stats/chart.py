"""A small SVG line chart of a table over time, fit to paste into a partner's report.

Why our own renderer: the output must be a self-contained file with no scripts, no
external fonts or images, and no dependency the server would otherwise not need. The SVG
uses only ``path``, ``circle``, ``line``, ``rect`` and ``text`` with the generic
``sans-serif`` font, so it renders the same in browsers, Inkscape and office suites.

Layout: one line per series (at most ``MAX_SERIES``, the largest first, Okabe-Ito
colour-blind-safe colours), months on the x axis, counts on the y axis with "nice" ticks.
A hidden (suppressed) month breaks the line: the gap is the honest picture, and the
caption says so. Each point is also drawn as a dot so a month between two gaps shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 860, 480
LEFT, RIGHT, TOP, BOTTOM = 64, 210, 48, 96
MAX_SERIES = 8
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")


@dataclass(frozen=True)
class Series:
    label: str
    values: tuple[int | None, ...]  # one per month; None = hidden


def nice_ticks(top: int, count: int = 5) -> list[int]:
    """0 and round steps (1, 2, 5 x 10^n) up to at least ``top``."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(s * power for s in (1, 2, 5, 10) if s * power >= raw)
    step = max(1, int(step))
    last = step * math.ceil(top / step)
    return list(range(0, last + 1, step))


def render(title: str, months: list[str], series: list[Series], caption: list[str],
           *, empty_note: str = "No month can be shown for this selection.") -> str:
    """The chart as an SVG document (str)."""
    series = sorted(series, key=lambda s: -sum(v or 0 for v in s.values))[:MAX_SERIES]
    top = max((v for s in series for v in s.values if v is not None), default=0)
    ticks = nice_ticks(top)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(1, len(months) - 1)

    def x(i: int) -> float:
        return LEFT + plot_w * i / n

    def y(v: int) -> float:
        return TOP + plot_h - plot_h * v / ticks[-1]

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" role="img" '
        f'aria-label="{escape(title, {chr(34): "&quot;"})}">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="28" font-size="16" font-weight="bold">{escape(title)}</text>',
    ]
    for t in ticks:  # horizontal grid and y labels
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(t):.1f}" y2="{y(t):.1f}" '
                   'stroke="#dddddd" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y(t) + 4:.1f}" font-size="11" '
                   f'text-anchor="end">{t}</text>')
    every = max(1, math.ceil(len(months) / 12))
    for i, m in enumerate(months):  # x labels, at most about twelve
        if i % every == 0 or i == len(months) - 1:
            out.append(f'<text x="{x(i):.1f}" y="{TOP + plot_h + 18}" font-size="11" '
                       f'text-anchor="middle">{escape(m)}</text>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" '
               f'y2="{TOP + plot_h}" stroke="#333333" stroke-width="1"/>')
    for idx, s in enumerate(series):
        colour = COLOURS[idx % len(COLOURS)]
        segments: list[str] = []
        pen_down = False
        for i, v in enumerate(s.values):
            if v is None:
                pen_down = False
                continue
            segments.append(f'{"L" if pen_down else "M"}{x(i):.1f},{y(v):.1f}')
            pen_down = True
            out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>')
        if segments:
            out.append(f'<path d="{" ".join(segments)}" fill="none" stroke="{colour}" '
                       'stroke-width="2"/>')
        ly = TOP + 8 + idx * 20  # legend
        out.append(f'<rect x="{WIDTH - RIGHT + 16}" y="{ly}" width="14" height="4" '
                   f'fill="{colour}"/>')
        out.append(f'<text x="{WIDTH - RIGHT + 36}" y="{ly + 6}" font-size="12">'
                   f'{escape(_clip(s.label))}</text>')
    if top == 0:
        out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" '
                   f'font-size="14" text-anchor="middle" fill="#666666">'
                   f"{escape(empty_note)}</text>")
    for j, line in enumerate(caption[:3]):
        out.append(f'<text x="{LEFT}" y="{HEIGHT - BOTTOM + 44 + j * 16}" font-size="11" '
                   f'fill="#444444">{escape(line)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _clip(text: str, limit: int = 26) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
