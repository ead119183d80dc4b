"""Mixed-workload load test against the deployment the README documents, on PostgreSQL.

    .venv/bin/python bench/load.py --seconds 60 --processes 2 --concurrency 16
    .venv/bin/python bench/load.py --smoke --test-argon2   # a few seconds, for CI

It creates its own database on the PostgreSQL at DOKAZ_TEST_PG_URL (default the local
server at 127.0.0.1:5432, dropped afterwards) and runs ``dokaz serve`` as it is deployed
behind Tor: the PROXY protocol on the public port (every client its own circuit), a staff
port, ``--processes`` public workers and ``--staff-workers`` staff workers in separate
process groups, shared state (the host-wide Argon2 cap, rate limits, upload slots) in the
local Redis, and the production Argon2 profile (64 MiB, as deployed; ``--test-argon2``
for the fast test profile, CI only). It seeds a recovery key,
a caseworker on intake duty with one session of its own per client, one partner key per
four clients, cases and a statistics release, then runs ``--concurrency`` async clients.
Each client picks operations by weight; anonymous ones go to the public port, each
report on a circuit of its own (as Tor Browser gives a new identity), staff and partner
ones to the staff port:

    submit      anonymous multipart submission with one file (``--file-kib``)
    followup    open a follow-up session with a receipt, post a message
    list        caseworker: first page of the case list
    edit        caseworker: read a case, change its priority with If-Match
    pull        partner: one statistics table

The same run also measures each staff operation (list, edit, pull) alone: one client, no
other load. ``--rounds`` rounds alternate an "alone" phase (each staff operation for
``--alone-seconds``) with a slice of the mixed load (``--seconds`` in all), the order
flipped every round, so both see the same machine. It prints throughput per operation,
p50/p95/p99 latency per operation under the mixed load and alone, the error count (5xx,
broken connections and unexpected 4xx; a 412 from two clients editing the same case is
counted as a conflict, not an error) and the resident memory of every server process
(peak of the sum). It exits non-zero when a target it prints is missed: no errors, and case edit and
partner pull p95 under the mixed load within ``--max-ratio`` (3) times their p95 alone
(``--smoke`` checks only the errors: its few seconds give no stable p95).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis import Redis
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.auth.roles import Role  # noqa: E402
from api.core.db import unit_of_work  # noqa: E402
from api.stats import service as stats_service  # noqa: E402
from tests.factories import (  # noqa: E402
    StaffHandle,
    create_partner_key,
    create_recovery_key_text,
    create_staff,
    sample_report,
)
from tests.system.live import Deployment, LiveApi, mint_token, shared_pg_database  # noqa: E402
from tests.system.tor_deployment import AsyncCircuitTransport, TorDeployment  # noqa: E402
from tests.system.traffic import multipart_body  # noqa: E402

WEIGHTS = {"submit": 3, "followup": 1, "list": 3, "edit": 2, "pull": 1}


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    conflicts: int = 0
    error_samples: list[str] = field(default_factory=list)

    def error(self, op: str, what: str) -> None:
        self.errors[op] += 1
        if len(self.error_samples) < 10:
            self.error_samples.append(f"{op}: {what[:200]}")


STAFF_OPS = ("list", "edit", "pull")
KEYS_PER_CLIENTS = 4  # one partner key per this many clients


@dataclass
class World:
    public_port: int
    staff_url: str
    tokens: list[str]  # one staff session per client (the last: the "alone" client's)
    partner_keys: list[str]
    case_ids: list[str]
    receipts: list[str]
    file_bytes: int
    table_id: str


class Client:
    def __init__(self, world: World, results: Results, http: httpx.AsyncClient,
                 index: int) -> None:
        self.w = world
        self.r = results
        self.http = http
        self.staff = {"Authorization": f"Bearer {world.tokens[index]}"}
        self.partner_key = world.partner_keys[
            min(index // KEYS_PER_CLIENTS, len(world.partner_keys) - 1)]
        # Receipts of its own, as a submitter has: an attempt counts against its receipt
        # until its Argon2id says it was right, so with production Argon2 (seconds under
        # load) several clients opening the same receipt at once would lock it as
        # guessed (5 attempts).
        self.receipts = world.receipts[index::len(world.tokens)] or world.receipts[:1]

    def url(self) -> str:
        return self.w.staff_url

    async def submit(self) -> bool:
        ctype, body = multipart_body(
            [("submission", json.dumps(sample_report(narrative="load " + secrets.token_hex(8))))],
            [("files", "evidence.bin", secrets.token_bytes(self.w.file_bytes))])
        async with circuit(self.w) as anonymous:
            r = await anonymous.post("/api/v1/submissions", content=body,
                                     headers={"Content-Type": ctype})
        if r.status_code == 201:
            self.receipts.append(r.json()["receipt"])
        return self._ok("submit", r, 201)

    async def followup(self) -> bool:
        async with circuit(self.w) as anonymous:
            r = await anonymous.post("/api/v1/followup/session",
                                     json={"receipt": random.choice(self.receipts)})
            if not self._ok("followup", r, 201):
                return False
            r = await anonymous.post(
                "/api/v1/followup/messages", json={"text": "update"},
                headers={"Authorization": f"Bearer {r.json()['token']}"})
        return self._ok("followup", r, 201)

    async def list(self) -> bool:
        r = await self.http.get(self.url() + "/api/v1/cases?limit=50", headers=self.staff)
        return self._ok("list", r, 200)

    async def edit(self) -> bool:
        base = self.url()
        case_id = random.choice(self.w.case_ids)
        got = await self.http.get(f"{base}/api/v1/cases/{case_id}", headers=self.staff)
        if not self._ok("edit", got, 200):
            return False
        r = await self.http.patch(
            f"{base}/api/v1/cases/{case_id}",
            json={"priority": random.choice(["low", "normal", "high"])},
            headers={**self.staff, "If-Match": got.headers["etag"]})
        if r.status_code == 412:
            self.r.conflicts += 1
            return False
        return self._ok("edit", r, 200)

    async def pull(self) -> bool:
        r = await self.http.get(f"{self.url()}/api/v1/stats/tables/{self.w.table_id}",
                                headers={"X-API-Key": self.partner_key})
        return self._ok("pull", r, 200)

    def _ok(self, op: str, response: httpx.Response, expected: int) -> bool:
        if response.status_code != expected:
            self.r.error(op, f"{response.status_code} {response.text}")
            return False
        return True


_circuits = itertools.count(1000)


def circuit(world: World) -> httpx.AsyncClient:
    """An anonymous client on a Tor circuit of its own (the PROXY header tor writes)."""
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{world.public_port}", timeout=120,
                             transport=AsyncCircuitTransport(next(_circuits)))


async def client_loop(world: World, results: Results, deadline: float, index: int) -> None:
    ops = [op for op, weight in WEIGHTS.items() for _ in range(weight)]
    async with httpx.AsyncClient(timeout=120) as http:
        client = Client(world, results, http, index)
        first = list(WEIGHTS)  # every client starts with one of each: all are measured
        while time.monotonic() < deadline or first:
            op = first.pop(0) if first else random.choice(ops)
            await timed(client, results, op)


async def timed(client: Client, results: Results, op: str) -> None:
    start = time.monotonic()
    try:
        ok = await getattr(client, op)()
    except httpx.HTTPError as exc:
        results.error(op, type(exc).__name__)
        return
    if ok:
        results.latencies[op].append(time.monotonic() - start)


async def alone_phase(world: World, results: Results, seconds: float) -> None:
    """Each staff operation by one client with nothing else running, in turn."""
    async with httpx.AsyncClient(timeout=120) as http:
        client = Client(world, results, http, len(world.tokens) - 1)
        for op in STAFF_OPS:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                await timed(client, results, op)


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants (the group supervisors and
    their workers), from /proc; 0 for what has gone."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return total


async def sample_rss(api: LiveApi, deadline: float, peak: list[int]) -> None:
    while time.monotonic() < deadline:
        peak[0] = max(peak[0], tree_rss(api.proc.pid))
        await asyncio.sleep(0.5)


def seed_accounts(dep: Deployment, keys: int) -> tuple[StaffHandle, list[str]]:
    """Before the API starts (it would make its own recovery key)."""
    with Session(dep.engine, expire_on_commit=False) as s:
        create_recovery_key_text(s)
        worker = create_staff(s, Role.CASEWORKER, on_intake_duty=True,
                              settings=dep.settings)
        partner_keys = [create_partner_key(s, name=f"Partner {i}")[0] for i in range(keys)]
    return worker, partner_keys


def seed(dep: Deployment, served: TorDeployment, cases: int, worker: StaffHandle,
         partner_keys: list[str], sessions: int) -> World:
    receipts: list[str] = []
    with httpx.Client(base_url=served.staff_url, timeout=60) as http:
        for i in range(cases):
            with served.circuit(100 + i) as anonymous:
                r = anonymous.post("/api/v1/submissions", json=sample_report())
            assert r.status_code == 201, r.text
            receipts.append(r.json()["receipt"])
        # One session per client, as staff really work: no shared token to hide a
        # per-session cost (the session's usage touch, its sealed key) behind one row.
        tokens = [mint_token(dep.engine, dep.settings, worker) for _ in range(sessions)]
        listing = http.get("/api/v1/cases?limit=200",
                           headers={"Authorization": f"Bearer {tokens[0]}"}).json()
    with unit_of_work(dep.engine) as s:
        stats_service.refresh(s, dep.settings, force=True)
    return World(served.public_port, served.staff_url, tokens, partner_keys,
                 [c["id"] for c in listing["items"]], receipts, 0, "acts_by_type_region_month")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def op_figures(results: Results, ops: tuple[str, ...], seconds: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for op in ops:
        lat = sorted(results.latencies.get(op, []))
        out[op] = {"ok": len(lat), "per_s": round(len(lat) / seconds, 1),
                   "p50_ms": round(percentile(lat, 50) * 1000, 1),
                   "p95_ms": round(percentile(lat, 95) * 1000, 1),
                   "p99_ms": round(percentile(lat, 99) * 1000, 1),
                   "errors": results.errors.get(op, 0)}
    return out


def report(mixed: Results, alone: Results, args: argparse.Namespace, rss_peak: int
           ) -> dict[str, Any]:
    ops = op_figures(mixed, tuple(WEIGHTS), args.seconds)
    alone_ops = op_figures(alone, STAFF_OPS, args.alone_seconds * args.rounds)
    ratios = {op: round(ops[op]["p95_ms"] / alone_ops[op]["p95_ms"], 2)
              if alone_ops[op]["ok"] and ops[op]["ok"] else float("nan")
              for op in STAFF_OPS}
    total = sum(o["ok"] for o in ops.values())
    errors = sum(mixed.errors.values()) + sum(alone.errors.values())
    checked = ("edit", "pull")
    misses = [] if errors == 0 else [f"{errors} error(s)"]
    if not args.smoke:
        misses += [f"{op} p95 mixed/alone {ratios[op]} > {args.max_ratio}" for op in checked
                   if not ratios[op] <= args.max_ratio]  # NaN (nothing measured) misses
    return {"seconds": args.seconds, "processes": args.processes,
            "staff_workers": args.staff_workers, "server_env": args.server_env,
            "concurrency": args.concurrency, "rounds": args.rounds,
            "argon2": "test" if args.test_argon2 else "production",
            "partner_keys": len(range(0, args.concurrency, KEYS_PER_CLIENTS)),
            "operations": ops, "alone": alone_ops, "p95_ratio_mixed_vs_alone": ratios,
            "max_ratio": args.max_ratio, "ratio_enforced": not args.smoke,
            "total_ok": total, "throughput_per_s": round(total / args.seconds, 1),
            "errors": errors, "conflicts": mixed.conflicts + alone.conflicts,
            "server_rss_peak_mib": round(rss_peak / 2**20, 1),
            "error_samples": mixed.error_samples + alone.error_samples,
            "misses": misses}


def print_report(fig: dict[str, Any]) -> None:
    print(f"{fig['processes']} public + {fig['staff_workers']} staff process(es) behind the "
          f"PROXY protocol with Redis, {fig['concurrency']} clients, "
          f"{fig['seconds']:.0f} s mixed in {fig['rounds']} rounds on PostgreSQL, "
          f"{fig['argon2']} Argon2, {fig['partner_keys']} partner keys, one staff session "
          "per client")
    head = (f"{'operation':<10}{'ok':>7}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
            f"{'errors':>8}")
    for title, table in (("mixed load", fig["operations"]),
                         ("alone (one client, no other load)", fig["alone"])):
        print(title)
        print(head)
        for op, o in table.items():
            print(f"{op:<10}{o['ok']:>7}{o['per_s']:>8}{o['p50_ms']:>9}{o['p95_ms']:>9}"
                  f"{o['p99_ms']:>9}{o['errors']:>8}")
    enforced = "" if fig["ratio_enforced"] else " (not enforced in --smoke)"
    print(f"p95 mixed / alone (target edit and pull <= {fig['max_ratio']}){enforced}: "
          + ", ".join(f"{op} {r}" for op, r in fig["p95_ratio_mixed_vs_alone"].items()))
    print(f"throughput {fig['throughput_per_s']}/s, errors {fig['errors']} (target 0), edit "
          f"conflicts (412) {fig['conflicts']}, server RSS peak {fig['server_rss_peak_mib']} MiB")
    for sample in fig["error_samples"]:
        print("  error:", sample)
    print("MISSED: " + "; ".join(fig["misses"]) if fig["misses"] else "all targets met")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="mixed load, in all")
    parser.add_argument("--processes", type=int, default=2, help="public worker processes")
    parser.add_argument("--staff-workers", type=int, default=1, help="staff worker processes")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--file-kib", type=int, default=64)
    parser.add_argument("--cases", type=int, default=30, help="cases seeded before the run")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alone and mixed phases alternate this many times")
    parser.add_argument("--alone-seconds", type=float, default=4,
                        help="per staff operation and round, one client alone")
    parser.add_argument("--max-ratio", type=float, default=3.0,
                        help="edit and pull p95 under load / alone, at most")
    parser.add_argument("--test-argon2", action="store_true",
                        help="the fast insecure Argon2 profile (CI smoke), not production's")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a DOKAZ_ setting for the server (repeatable), e.g. "
                        "DOKAZ_PUBLIC_NICE=0 to compare")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.processes, args.concurrency, args.cases = 5, 2, 4, 6
        args.rounds, args.alone_seconds = 2, 1
    profile = "fast-insecure-for-tests" if args.test_argon2 else "standard"
    server_env = {"DOKAZ_KDF_PROFILE": profile, "DOKAZ_WORKERS": str(args.processes),
                  "DOKAZ_STAFF_WORKERS": str(args.staff_workers),
                  "DOKAZ_REDIS_URL": args.redis_url, "DOKAZ_LOG_LEVEL": "WARNING"}
    for pair in args.server_env:
        name, _, value = pair.partition("=")
        if not name.startswith("DOKAZ_"):
            parser.error(f"--server-env takes DOKAZ_NAME=VALUE, not {pair!r}")
        server_env[name] = value
    keys = math.ceil(args.concurrency / KEYS_PER_CLIENTS)
    with tempfile.TemporaryDirectory(prefix="dokaz-load-") as tmp, \
            shared_pg_database("dokaz_load") as url:
        # Every client here is one address: the per-client count of receipt attempts
        # (taken before Argon2id answers, seconds under load) would lock them all out.
        dep = Deployment(Path(tmp), url, {"DOKAZ_RECEIPT_ATTEMPTS_PER_HOUR": "1000000"})
        prefix = f"load-{secrets.token_hex(4)}:"
        try:
            worker, partner_keys = seed_accounts(dep, keys)
            served = TorDeployment(dep, DOKAZ_REDIS_KEY_PREFIX=prefix,
                                   **server_env).wait_ready(180)
            world = seed(dep, served, args.cases, worker, partner_keys, args.concurrency + 1)
            world.file_bytes = args.file_kib * 1024
            mixed, alone = Results(), Results()
            peak = [0]

            async def mixed_phase(seconds: float) -> None:
                deadline = time.monotonic() + seconds
                await asyncio.gather(sample_rss(served.api, deadline, peak),
                                     *(client_loop(world, mixed, deadline, i)
                                       for i in range(args.concurrency)))

            async def run() -> None:
                for i in range(args.rounds):
                    # Alternate which phase comes first, so neither always follows the
                    # other's leftovers (a busy disk, a hot cache).
                    for phase in ("alone", "mixed") if i % 2 == 0 else ("mixed", "alone"):
                        if phase == "alone":
                            await alone_phase(world, alone, args.alone_seconds)
                        else:
                            await mixed_phase(args.seconds / args.rounds)
                        await asyncio.sleep(0.5)  # let the last requests' work drain

            asyncio.run(run())
            fig = report(mixed, alone, args, peak[0])
        finally:
            dep.close()
            redis = Redis.from_url(args.redis_url)
            for key in redis.scan_iter(match=prefix + "*"):
                redis.delete(key)
            redis.close()
    if args.json:
        print(json.dumps(fig, indent=2))
    else:
        print_report(fig)
    sys.exit(1 if fig["misses"] else 0)


if __name__ == "__main__":
    main()
