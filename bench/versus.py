"""Benchmark: this checkout against another one, the same benchmark interleaved in one run.

A restructuring must not cost speed. This script runs one of the other benchmarks (any
that prints its figures with ``--json``) in two checkouts, alternating base, this, base,
this ... ``--runs`` times each, with the same Python, database server and disk, so a busy
machine slows both alike. It prints, per figure, the median of each side, their ratio
this/base, and the noise: the relative spread (max - min) / median of the base's own runs.
A figure is "within noise" when the ratio differs from 1 by no more than
``max(noise, --tolerance)``. Exits 1 if a figure that has a direction (throughput up,
latency and memory down) is worse than that.

    git worktree add ../baseline <commit>
    .venv/bin/python bench/versus.py --base ../baseline --runs 3 -- \\
        load.py --seconds 20 --processes 2 --concurrency 8
    ... --judge 'throughput*' --judge '*.p50_ms' --judge '*errors' --judge '*rss*' -- load.py
    .venv/bin/python bench/versus.py --base ../baseline -- upload.py --size-mib 256 --slow 0

The base checkout runs with this checkout's virtual environment; each side's benchmark
imports its own tree (a bench script puts its checkout first on ``sys.path``, and API
processes are started with that checkout as working directory).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# Figures whose larger value is better; every other numeric figure is better smaller,
# except the ones listed as neutral (counts that describe the run, not its speed).
HIGHER_IS_BETTER = ("per_s", "mb_s", "throughput")
NEUTRAL = ("ok", "total_ok", "processes", "concurrency", "seconds", "size", "runs",
           "conflicts")


def flatten(value: Any, prefix: str = "") -> dict[str, float]:
    """``{"submit": {"p50_ms": 12}}`` -> ``{"submit.p50_ms": 12.0}`` (numbers only)."""
    out: dict[str, float] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}{key}."))
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int | float):
        out[prefix.rstrip(".")] = float(value)
    return out


def direction(name: str) -> int:
    """+1 if larger is better, -1 if smaller is better, 0 if it only describes the run."""
    leaf = name.rsplit(".", 1)[-1]
    if any(leaf == n or leaf.startswith(n + "_") for n in NEUTRAL):
        return 0
    if any(h in leaf for h in HIGHER_IS_BETTER):
        return 1
    return -1


def run_once(checkout: Path, bench: list[str]) -> dict[str, float]:
    script = checkout / "bench" / bench[0]
    proc = subprocess.run([sys.executable, str(script), *bench[1:], "--json"],
                          cwd=checkout, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
        raise SystemExit(f"{script} failed with exit code {proc.returncode}")
    start = proc.stdout.index("{")  # a bench may print progress lines before its JSON
    return flatten(json.loads(proc.stdout[start:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the other checkout")
    parser.add_argument("--runs", type=int, default=3, help="runs of each side")
    parser.add_argument("--tolerance", type=float, default=0.10,
                        help="smallest allowed relative difference (default 0.10)")
    parser.add_argument("--judge", action="append", default=[], metavar="GLOB",
                        help="judge only the figures matching GLOB (repeatable); the rest "
                             "are printed as figures. Default: all")
    parser.add_argument("bench", nargs=argparse.REMAINDER,
                        help="-- SCRIPT [ARGS]: a bench/ script that accepts --json")
    args = parser.parse_args()
    bench = [a for a in args.bench if a != "--"] if args.bench else []
    if not bench:
        parser.error("name the benchmark after --, e.g. -- load.py --seconds 20")
    base = args.base.resolve()
    if not (base / "bench" / bench[0]).is_file():
        parser.error(f"{base}/bench/{bench[0]} does not exist")

    runs: dict[str, list[dict[str, float]]] = {"base": [], "this": []}
    for i in range(args.runs):
        for side, checkout in (("base", base), ("this", ROOT)):
            print(f"run {i + 1}/{args.runs} {side} ...", file=sys.stderr, flush=True)
            runs[side].append(run_once(checkout, bench))

    names = sorted(set.intersection(*(set(r) for r in runs["base"] + runs["this"])))
    worse: list[str] = []
    print(f"{' '.join(bench)}: {args.runs} runs each, interleaved; base {base}")
    print(f"{'figure':<28}{'base':>11}{'this':>11}{'ratio':>8}{'noise':>8}  verdict")
    for name in names:
        b = [r[name] for r in runs["base"]]
        t = [r[name] for r in runs["this"]]
        if not all(math.isfinite(v) for v in b + t):
            continue  # a percentile of an operation that never ran
        bm, tm = statistics.median(b), statistics.median(t)
        sign = direction(name)
        if args.judge and not any(fnmatchcase(name, g) for g in args.judge):
            sign = 0
        if bm == 0:  # e.g. errors: none in the base, so any in this checkout is worse
            verdict = "WORSE" if sign < 0 and tm > 0 else "same"
            if verdict == "WORSE":
                worse.append(name)
            print(f"{name:<28}{bm:>11.1f}{tm:>11.1f}{'-':>8}{'-':>8}  {verdict}")
            continue
        ratio = tm / bm
        noise = (max(b) - min(b)) / abs(bm)
        allowed = max(noise, args.tolerance)
        verdict = "figure"
        if sign:
            change = (ratio - 1) * sign  # > 0: better, < 0: worse
            verdict = "within noise" if abs(ratio - 1) <= allowed else (
                "better" if change > 0 else "WORSE")
            if verdict == "WORSE":
                worse.append(name)
        print(f"{name:<28}{bm:>11.1f}{tm:>11.1f}{ratio:>8.2f}{noise:>8.2f}  {verdict}")
    if worse:
        print(f"target missed: worse than noise: {', '.join(worse)}")
        raise SystemExit(1)
    print("target met: no figure worse than the base's own noise "
          f"(or {args.tolerance:.0%}, whichever is larger)")


if __name__ == "__main__":
    main()
