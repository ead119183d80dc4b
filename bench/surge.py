"""Caseworkers during an intake surge, with production Argon2, on the deployment the README
documents behind Tor.

    .venv/bin/python bench/surge.py                 # 2 rounds of 30 s alone + 30 s surge
    .venv/bin/python bench/surge.py --seconds 60 --rounds 3
    .venv/bin/python bench/surge.py --smoke --json  # a few seconds, for CI

It creates its own database on the PostgreSQL at DOKAZ_TEST_PG_URL (prefix ``iso_surge``,
dropped afterwards) and uses Redis DB 13 under a key prefix of its own (deleted
afterwards), seeds a recovery key, ``--caseworkers`` caseworkers on intake duty (their
passwords under the standard Argon2 profile) and ``--cases`` cases, then starts one
``dokaz serve`` with ``--workers`` public and ``--staff-workers`` staff processes, a staff
port, ``DOKAZ_CLIENT_IDENTITY=proxy-protocol`` on the public port and the standard (64 MiB)
Argon2 profile. The per-client budgets stay open as the test harness opens them (every
client here is one address or a handful of circuits); the Argon2 cap is the server's own
default.

Then, in one run, phases alternate ``--rounds`` times:

    alone   each caseworker (its own token) lists the cases, reads one of its own share and
            edits it (If-Match), with a short pause between operations;
    surge   the same, while ``--submitters`` anonymous submitters, each on a new Tor circuit
            per report, send multipart reports with one or two files (every fourth report
            as a tus upload and a submission that attaches it), streamed at ``--kib-per-s``
            as over Tor, with a pause between reports. The defaults (files of 1-4 MiB at
            128 KiB/s, one or two a report) make uploads of 8-60 s, about the 30 s of the
            surge issue 16 measured: some 1 report/s from 32 people, which is what 2 cores
            can hash (4 receipts/s at most, idle) with room left.

It prints, per phase and per kind of phase, p50/p95/p99 of list, read and edit; the ratio
surge/alone of the list and edit p99 (target <= 2); the time from each submitter's last
byte (the last byte of the multipart body, or of the tus upload's last PATCH) to its
receipt, p50/p95 (target p95 <= 2 s); and the errors (5xx, unexpected 4xx, broken
connections; target 0). It exits 1 when any target is missed. ``--smoke`` runs a few
seconds with a few submitters: it judges the errors only (the timing targets need the
full run) and prints every figure all the same.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis import Redis
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.auth.roles import Role  # noqa: E402
from api.core.settings import Settings  # noqa: E402
from tests.factories import (  # noqa: E402
    StaffHandle,
    create_recovery_key_text,
    create_staff,
    sample_report,
)
from tests.system.live import Deployment, mint_token, shared_pg_database  # noqa: E402
from tests.system.tor_deployment import AsyncCircuitTransport, TorDeployment  # noqa: E402
from tests.system.traffic import multipart_body  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/13"
STAFF_OPS = ("list", "read", "edit")
TUS = {"Tus-Resumable": "1.0.0"}
RATIO_TARGET = 2.0
RECEIPT_P95_TARGET = 2.0  # seconds from the last byte to the receipt
CHUNK = 32 * 1024


@dataclass
class Phase:
    name: str  # alone-1, surge-1, ...
    kind: str  # alone | surge
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    receipts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    conflicts: int = 0


@dataclass
class Bench:
    staff_url: str
    public_port: int
    tokens: list[str]
    shares: list[list[str]]  # each caseworker's own cases (no two edit the same one)
    file_kib: tuple[int, int]
    kib_per_s: float
    think: float
    pause: tuple[float, float]
    samples: list[str] = field(default_factory=list)
    circuits: int = 1000

    def error(self, phase: Phase, op: str, what: str) -> None:
        phase.errors[op] += 1
        if len(self.samples) < 12:
            self.samples.append(f"{phase.name} {op}: {what[:200]}")

    def circuit(self) -> httpx.AsyncClient:
        """A client on a new Tor circuit (the PROXY header tor writes, on every connection)."""
        self.circuits += 1
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.public_port}",
                                 transport=AsyncCircuitTransport(self.circuits), timeout=120)


# ---- caseworkers ---------------------------------------------------------------------


async def caseworker(bench: Bench, phase: Phase, who: int, deadline: float) -> None:
    headers = {"Authorization": f"Bearer {bench.tokens[who]}"}
    share = bench.shares[who]
    async with httpx.AsyncClient(base_url=bench.staff_url, timeout=120) as http:
        while time.monotonic() < deadline:
            try:
                await _staff_round(bench, phase, http, headers, random.choice(share))
            except httpx.HTTPError as exc:
                bench.error(phase, "staff", type(exc).__name__)
            await asyncio.sleep(bench.think)


async def _staff_round(bench: Bench, phase: Phase, http: httpx.AsyncClient,
                       headers: dict[str, str], case_id: str) -> None:
    start = time.monotonic()
    r = await http.get("/api/v1/cases?limit=50", headers=headers)
    if not _ok(bench, phase, "list", r, 200, start):
        return
    start = time.monotonic()
    got = await http.get(f"/api/v1/cases/{case_id}", headers=headers)
    if not _ok(bench, phase, "read", got, 200, start):
        return
    start = time.monotonic()
    r = await http.patch(f"/api/v1/cases/{case_id}",
                         json={"priority": random.choice(["low", "normal", "high"])},
                         headers={**headers, "If-Match": got.headers["etag"]})
    if r.status_code == 412:
        phase.conflicts += 1  # nobody else edits this share: not expected, not an error
        return
    _ok(bench, phase, "edit", r, 200, start)


def _ok(bench: Bench, phase: Phase, op: str, r: httpx.Response, expected: int,
        start: float) -> bool:
    if r.status_code != expected:
        bench.error(phase, op, f"{r.status_code} {r.text}")
        return False
    phase.latencies[op].append(time.monotonic() - start)
    return True


# ---- submitters ----------------------------------------------------------------------


class Paced:
    """A request body sent at ``kib_per_s``, as over Tor; :attr:`last_byte` is when its
    last chunk was handed to the connection (httpx asks for the next chunk only once it
    has written the one before)."""

    def __init__(self, body: bytes, kib_per_s: float) -> None:
        self.body = body
        self.pause = CHUNK / (kib_per_s * 1024)
        self.last_byte = 0.0

    async def chunks(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self.body), CHUNK):
            if i:
                await asyncio.sleep(self.pause)
            yield self.body[i:i + CHUNK]
        self.last_byte = time.monotonic()


def _files(bench: Bench) -> list[bytes]:
    low, high = bench.file_kib
    return [secrets.token_bytes(random.randint(low, high) * 1024)
            for _ in range(random.choice((1, 1, 2)))]


async def submitter(bench: Bench, phase: Phase, who: int, deadline: float) -> None:
    # Staggered, as people are: not all 32 at the first second.
    await asyncio.sleep(random.uniform(0, bench.pause[1]))
    n = 0
    while time.monotonic() < deadline:
        n += 1
        kind = "tus" if (who + n) % 4 == 0 else "multipart"
        try:
            async with bench.circuit() as http:
                await (_tus(bench, phase, http) if kind == "tus"
                       else _multipart(bench, phase, http))
        except httpx.HTTPError as exc:
            bench.error(phase, kind, type(exc).__name__)
        await asyncio.sleep(random.uniform(*bench.pause))


async def _multipart(bench: Bench, phase: Phase, http: httpx.AsyncClient) -> None:
    ctype, body = multipart_body(
        [("submission", json.dumps(sample_report(narrative="surge " + secrets.token_hex(8))))],
        [("files", f"evidence-{i}.bin", data) for i, data in enumerate(_files(bench))])
    paced = Paced(body, bench.kib_per_s)
    r = await http.post("/api/v1/submissions", content=paced.chunks(),
                        headers={"Content-Type": ctype})
    done = time.monotonic()
    if r.status_code != 201 or "receipt" not in r.json():
        bench.error(phase, "multipart", f"{r.status_code} {r.text}")
        return
    phase.receipts["multipart"].append(done - paced.last_byte)


async def _tus(bench: Bench, phase: Phase, http: httpx.AsyncClient) -> None:
    data = _files(bench)[0]
    name = base64.b64encode(b"evidence.bin").decode()
    r = await http.post("/api/v1/uploads", headers={
        **TUS, "Upload-Length": str(len(data)), "Upload-Metadata": f"filename {name}"})
    if r.status_code != 201:
        bench.error(phase, "tus", f"create {r.status_code} {r.text}")
        return
    location = r.headers["Location"]
    paced = Paced(b"", bench.kib_per_s)
    piece = 256 * 1024  # a few PATCHes per upload, as a resumable client sends
    for offset in range(0, len(data), piece):
        paced = Paced(data[offset:offset + piece], bench.kib_per_s)
        r = await http.patch(location, content=paced.chunks(), headers={
            **TUS, "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream"})
        if r.status_code != 204:
            bench.error(phase, "tus", f"patch {r.status_code} {r.text}")
            return
    finished = time.monotonic()
    phase.receipts["tus: last PATCH answered"].append(finished - paced.last_byte)
    r = await http.post("/api/v1/submissions", json={
        **sample_report(narrative="surge tus " + secrets.token_hex(8)), "uploads": [location]})
    done = time.monotonic()
    if r.status_code != 201 or "receipt" not in r.json():
        bench.error(phase, "tus", f"submit {r.status_code} {r.text}")
        return
    phase.receipts["tus"].append(done - paced.last_byte)
    phase.receipts["tus: submission answered"].append(done - finished)


# ---- phases --------------------------------------------------------------------------


async def run_phase(bench: Bench, phase: Phase, seconds: float, submitters: int) -> None:
    deadline = time.monotonic() + seconds
    staff = [caseworker(bench, phase, i, deadline) for i in range(len(bench.tokens))]
    surge = [submitter(bench, phase, i, deadline) for i in range(submitters)
             if phase.kind == "surge"]
    # Submitters finish the report they are sending (its receipt counts), so the next
    # phase starts without a surge.
    await asyncio.gather(*staff, *surge)


def percentile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _ms(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": round(percentile(values, 50) * 1000, 1),
            "p95_ms": round(percentile(values, 95) * 1000, 1),
            "p99_ms": round(percentile(values, 99) * 1000, 1)}


def figures(phases: list[Phase], smoke: bool, setup: dict[str, Any]) -> dict[str, Any]:
    fig: dict[str, Any] = {"setup": setup, "smoke": smoke, "phases": {}, "by_kind": {}}
    for phase in phases:
        fig["phases"][phase.name] = {
            "kind": phase.kind,
            "ops": {op: _ms(phase.latencies.get(op, [])) for op in STAFF_OPS},
            "receipts": {k: _ms(v) for k, v in phase.receipts.items()},
            "errors": dict(phase.errors), "conflicts": phase.conflicts}
    for kind in ("alone", "surge"):
        mine = [p for p in phases if p.kind == kind]
        fig["by_kind"][kind] = {op: _ms([x for p in mine for x in p.latencies.get(op, [])])
                                for op in STAFF_OPS}
    ratios = {}
    for op in ("list", "edit"):
        alone, surge = (fig["by_kind"][k][op]["p99_ms"] for k in ("alone", "surge"))
        ratios[op] = round(surge / alone, 2) if alone and alone == alone else float("nan")
    fig["p99_ratio_surge_over_alone"] = ratios
    receipts = [x for p in phases for k, v in p.receipts.items() if ":" not in k for x in v]
    fig["receipt_after_last_byte"] = {
        "n": len(receipts), "p50_s": round(percentile(receipts, 50), 3),
        "p95_s": round(percentile(receipts, 95), 3),
        "max_s": round(max(receipts), 3) if receipts else float("nan"),
        "multipart": sum(len(p.receipts.get("multipart", [])) for p in phases),
        "tus": sum(len(p.receipts.get("tus", [])) for p in phases)}
    fig["errors"] = sum(sum(p.errors.values()) for p in phases)
    targets = {
        "errors == 0": fig["errors"] == 0,
        "staff operations measured in every phase": all(
            p.latencies.get(op) for p in phases for op in STAFF_OPS),
        "receipts measured": bool(receipts),
    }
    if not smoke:
        targets[f"list p99 ratio <= {RATIO_TARGET}"] = ratios["list"] <= RATIO_TARGET
        targets[f"edit p99 ratio <= {RATIO_TARGET}"] = ratios["edit"] <= RATIO_TARGET
        targets[f"receipt p95 <= {RECEIPT_P95_TARGET} s"] = (
            fig["receipt_after_last_byte"]["p95_s"] <= RECEIPT_P95_TARGET)
    fig["targets"] = targets
    fig["pass"] = all(targets.values())
    return fig


def print_report(fig: dict[str, Any], out: Any) -> None:
    s = fig["setup"]
    print(f"Surge: {s['caseworkers']} caseworkers, {s['submitters']} submitters, "
          f"{s['seconds']:.0f} s per phase, {s['rounds']} round(s); dokaz serve "
          f"--workers {s['workers']} --staff-workers {s['staff_workers']}, Argon2 "
          f"standard profile, host cap {s['argon2_cap']}, PostgreSQL, Redis DB 13"
          + "".join(f", {pair}" for pair in s["server_env"]), file=out)
    print(f"host load average {s['load_average_before']} before, "
          f"{s['load_average_after']} after", file=out)
    print(f"{'phase':<10}{'op':<6}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}", file=out)
    for name, p in fig["phases"].items():
        for op, o in p["ops"].items():
            print(f"{name:<10}{op:<6}{o['n']:>6}{o['p50_ms']:>9}{o['p95_ms']:>9}"
                  f"{o['p99_ms']:>9}", file=out)
        for kind, o in p["receipts"].items():
            print(f"{name:<10}{'rcpt':<6}{o['n']:>6}{o['p50_ms']:>9}{o['p95_ms']:>9}"
                  f"{o['p99_ms']:>9}  ({kind}: last byte -> receipt)", file=out)
        if p["errors"]:
            print(f"{name:<10}errors {p['errors']}", file=out)
    for kind, ops in fig["by_kind"].items():
        print(f"all {kind:<6}" + "  ".join(
            f"{op} p50/p95/p99 {o['p50_ms']}/{o['p95_ms']}/{o['p99_ms']} ms"
            for op, o in ops.items()), file=out)
    r = fig["p99_ratio_surge_over_alone"]
    print(f"p99 ratio surge/alone: list {r['list']}, edit {r['edit']} "
          f"(target <= {RATIO_TARGET})", file=out)
    rc = fig["receipt_after_last_byte"]
    print(f"receipt after last byte: {rc['n']} ({rc['multipart']} multipart, {rc['tus']} "
          f"tus), p50 {rc['p50_s']} s, p95 {rc['p95_s']} s, max {rc['max_s']} s "
          f"(target p95 <= {RECEIPT_P95_TARGET} s)", file=out)
    print(f"errors {fig['errors']} (target 0)", file=out)
    for sample in fig.get("error_samples", []):
        print("  error:", sample, file=out)
    for target, ok in fig["targets"].items():
        print(f"{'PASS' if ok else 'MISS'}: {target}", file=out)
    if fig["smoke"]:
        print("(smoke: the timing targets need the full run and are not judged)", file=out)


# ---- setup ---------------------------------------------------------------------------


def seed_staff(dep: Deployment, count: int) -> list[StaffHandle]:
    """The recovery key and the caseworkers (standard Argon2 for their passwords), before
    the API starts (it would make its own recovery key)."""
    standard = dep.settings.model_copy(update={"kdf_profile": "standard"})
    with Session(dep.engine, expire_on_commit=False) as s:
        create_recovery_key_text(s)
        return [create_staff(s, Role.CASEWORKER, on_intake_duty=True, settings=standard)
                for _ in range(count)]


async def seed_cases(bench: Bench, count: int) -> None:
    async def one() -> None:
        async with bench.circuit() as http:
            r = await http.post("/api/v1/submissions", json=sample_report())
            assert r.status_code == 201, r.text

    for start in range(0, count, 4):
        await asyncio.gather(*(one() for _ in range(min(4, count - start))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30, help="per phase")
    parser.add_argument("--rounds", type=int, default=2, help="alone + surge, this often")
    parser.add_argument("--caseworkers", type=int, default=4)
    parser.add_argument("--submitters", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="public processes")
    parser.add_argument("--staff-workers", type=int, default=1)
    parser.add_argument("--cases", type=int, default=40, help="cases seeded before the run")
    parser.add_argument("--file-kib", type=int, nargs=2, default=(1024, 4096),
                        metavar=("MIN", "MAX"), help="size of each file")
    parser.add_argument("--kib-per-s", type=float, default=128,
                        help="each submitter's upload rate (as over Tor)")
    parser.add_argument("--pause", type=float, nargs=2, default=(2.0, 6.0),
                        metavar=("MIN", "MAX"), help="seconds between a submitter's reports")
    parser.add_argument("--think", type=float, default=0.1,
                        help="seconds between a caseworker's rounds (list, read, edit)")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a DOKAZ_ setting for the server (repeatable), e.g. "
                        "DOKAZ_ARGON2_NICE=0 to compare")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as JSON on stdout (the report on stderr)")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.rounds, args.submitters, args.cases = 4, 1, 4, 8
        args.file_kib, args.kib_per_s, args.pause = (16, 64), 1024, (0.2, 0.5)
    prefix = f"iso-surge-{secrets.token_hex(4)}:"
    env = {"DOKAZ_WORKERS": str(args.workers),
           "DOKAZ_STAFF_WORKERS": str(args.staff_workers),
           "DOKAZ_KDF_PROFILE": "standard", "DOKAZ_REDIS_URL": REDIS_URL,
           "DOKAZ_REDIS_KEY_PREFIX": prefix, "DOKAZ_LOG_LEVEL": "WARNING"}
    for pair in args.server_env:
        name, _, value = pair.partition("=")
        if not name.startswith("DOKAZ_"):
            parser.error(f"--server-env takes DOKAZ_NAME=VALUE, not {pair!r}")
        env[name] = value
    setup = {"caseworkers": args.caseworkers, "submitters": args.submitters,
             "seconds": args.seconds, "rounds": args.rounds, "workers": args.workers,
             "staff_workers": args.staff_workers,
             "argon2_cap": Settings().resolved_max_concurrent_argon2,
             "file_kib": list(args.file_kib), "kib_per_s": args.kib_per_s,
             "server_env": args.server_env,
             # Other work on the host shows here: the ratios are interleaved, the absolute
             # times are not comparable across hosts or loads.
             "load_average_before": round(os.getloadavg()[0], 2)}
    redis = Redis.from_url(REDIS_URL)
    try:
        with tempfile.TemporaryDirectory(prefix="iso-surge-") as tmp, \
                shared_pg_database("iso_surge") as url:
            dep = Deployment(Path(tmp), url)
            try:
                handles = seed_staff(dep, args.caseworkers)
                served = TorDeployment(dep, **env).wait_ready(180)
                tokens = [mint_token(dep.engine, dep.settings, h) for h in handles]
                bench = Bench(served.staff_url, served.public_port, tokens, [],
                              tuple(args.file_kib), args.kib_per_s, args.think,
                              tuple(args.pause))
                asyncio.run(seed_cases(bench, args.cases))
                listing = httpx.get(served.staff_url + "/api/v1/cases?limit=200", timeout=60,
                                    headers={"Authorization": f"Bearer {tokens[0]}"}).json()
                ids = [c["id"] for c in listing["items"]]
                assert len(ids) >= args.caseworkers, listing
                bench.shares = [ids[i::args.caseworkers] for i in range(args.caseworkers)]
                phases = [Phase(f"{kind}-{r + 1}", kind)
                          for r in range(args.rounds) for kind in ("alone", "surge")]

                async def run() -> None:
                    for phase in phases:
                        await run_phase(bench, phase, args.seconds, args.submitters)

                asyncio.run(run())
            finally:
                dep.close()
    finally:
        with contextlib.suppress(Exception):
            for key in redis.scan_iter(match=prefix + "*"):
                redis.delete(key)
        redis.close()
    setup["load_average_after"] = round(os.getloadavg()[0], 2)
    fig = figures(phases, args.smoke, setup)
    fig["error_samples"] = bench.samples
    print_report(fig, sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(fig, indent=2))
    return 0 if fig["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
