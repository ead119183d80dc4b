"""Abuse over Tor: attacker circuits flood the documented deployment while genuine circuits
submit reports, follow up and sign in. Is anybody genuine turned away, and how much slower
are they?

    .venv/bin/python bench/abuse.py --seconds 60      # 60 s of flood and 60 s without
    .venv/bin/python bench/abuse.py --smoke           # a few seconds, for CI
    .venv/bin/python bench/abuse.py --smoke --json    # figures as one flat JSON dict
                                                      # (the report then goes to stderr)

The deployment is the one README and docs/deployment-tor.md document: ``dokaz serve`` with
``DOKAZ_CLIENT_IDENTITY=proxy-protocol`` on the public port and ``DOKAZ_STAFF_PORT``, on a
fresh PostgreSQL database (dropped afterwards), Redis shared state under a prefix of its
own, the standard Argon2id profile and every limit at its default (what a deployment runs
with; they are printed). ``--processes`` (2) API processes: ``dokaz serve --workers 2``
where the checkout serves a staff port with workers, else (or with ``--serve separate``)
separate ``dokaz serve`` processes, each with its own public and staff port, on one
database, data directory and Redis. The output says which.

The run is interleaved so that "with" and "without the flood" are measured under the same
machine drift: after a short warm-up, ``--slices`` baseline slices alternate with as many
flood slices, ``--seconds`` of flood in all. Genuine traffic never stops:

* ``--genuine`` circuits, each in a loop with a random pause (``--think``): submit a report
  with 1-2 small files (multipart; every third one a file sent with tus first), then follow
  it up with its receipt (session + message). Each report comes from a new circuit id, as
  Tor Browser gives a new circuit to a new identity.
* staff sign in on the staff port every ``--signin-every`` seconds (correct password and a
  fresh TOTP code; a code works once per step, so ``--staff`` accounts take turns), then
  list cases.

A genuine operation succeeds only with its expected 2xx; anything else (429, 503, 408, 5xx,
a reset) is a failure and is printed by kind. An operation belongs to the phase it spent
most of its time in (operations mostly in the warm-up or after the end are not counted).

The attackers run in a process of their own (their client work must not stall the genuine
clients' event loop), only during flood slices: ``--attackers`` circuits, ``--rotating`` of
which take a new circuit id whenever refused with 429 (free here; Tor's proof of work makes
it expensive in reality), each with ``--concurrency`` requests in flight, looping as fast
as they can over malformed JSON, a wrong content type, huge declared lengths, valid
submissions, random well-formed receipts, wrong receipts for a real receipt, sign-in
sprays on the staff port (random usernames, and a known one - a genuine account that signs
in at every TOTP step - with wrong passwords; as an attacker holding a staff onion key
would: without one the staff service is unreachable) and on the public port (404), tus
creations, and connections without a PROXY header; plus ``--idle`` tus PATCH connections,
each on its own circuit, that send their headers and then nothing or a byte every 3 s
until the server closes them or the slice ends. At a slice's end attackers send nothing
new; requests in flight get 30 s for their answer.

It prints the genuine success rate per operation and overall, genuine p50/p95 without and
with the flood and their ratio, what the attackers sent and got accepted per kind next to
the bound the settings allow, the peak RSS and open file descriptors of each API process,
and PASS/FAIL per target; it exits 1 on any miss (``--report-only``: 0, for
``bench/versus.py``, which judges ``targets_missed`` like any other figure). Targets:
genuine success 100 %, p95 ratio <= 3 (not judged in ``--smoke``: too few samples),
nothing accepted beyond its budget.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import json
import math
import multiprocessing
import os
import random
import re
import resource
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import httpx
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.auth.roles import Role  # noqa: E402
from api.auth.throttle import Backoff  # noqa: E402
from api.auth.totp import code_for_step, step_at  # noqa: E402
from api.core.models import utcnow  # noqa: E402
from api.core.settings import Settings  # noqa: E402
from tests.factories import (  # noqa: E402
    StaffHandle,
    create_recovery_key_text,
    create_staff,
    sample_report,
)
from tests.system.live import OPEN_LIMITS, Deployment, shared_pg_database  # noqa: E402
from tests.system.tor.proxied import tor_header  # noqa: E402
from tests.system.tor_deployment import AsyncCircuitTransport, TorDeployment  # noqa: E402
from tests.system.traffic import multipart_body  # noqa: E402

TUS = {"Tus-Resumable": "1.0.0"}
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # the receipt alphabet (crypto/_base32.py)
GENUINE_CIRCUITS, ATTACKER_CIRCUITS, IDLE_CIRCUITS = 1_000_000, 2_000_000, 3_000_000
GENUINE_OPS = ("submit", "submit-tus", "followup", "signin", "cases")
# Settings printed as "the budgets": every limit an attacker could exhaust, including ones
# added after this bench was written (matched by name).
BUDGET_NAMES = re.compile(r"rate|attempts|concurrent|connections|uploads?_|min_body|"
                          r"free_disk|in_flight|per_client|global")
NOT_BUDGETS = re.compile(r"clean_copy|stats|segments|expiry|job_")


# ---- the deployment ------------------------------------------------------------------


def deployment_env(prefix: str) -> dict[str, str]:
    """What every API process gets on top of the harness's environment: the limits the
    harness opens for tests go back to their defaults, production Argon2, shared Redis."""
    env = {var: str(Settings.model_fields[var.removeprefix("DOKAZ_").lower()].default)
           for var in OPEN_LIMITS
           if var.removeprefix("DOKAZ_").lower() in Settings.model_fields}
    env.update(DOKAZ_KDF_PROFILE="standard", DOKAZ_REDIS_URL="redis://127.0.0.1:6379/0",
               DOKAZ_REDIS_KEY_PREFIX=prefix, DOKAZ_LOG_LEVEL="WARNING")
    return env


def limits_of(env: dict[str, str]) -> Settings:
    values = {k.removeprefix("DOKAZ_").lower(): v for k, v in env.items()
              if k.startswith("DOKAZ_") and k.removeprefix("DOKAZ_").lower()
              in Settings.model_fields}
    return Settings.model_validate(values)


def budgets(limits: Settings) -> dict[str, Any]:
    return {name: getattr(limits, name) for name in Settings.model_fields
            if BUDGET_NAMES.search(name) and not NOT_BUDGETS.search(name)
            and isinstance(getattr(limits, name), int | float)}


def serve(dep: Deployment, env: dict[str, str], processes: int, how: str
          ) -> tuple[list[TorDeployment], str]:
    """``processes`` API processes behind the documented ports, and how they run: as
    ``dokaz serve --workers N`` (one public and one staff port) where this checkout serves
    a staff port with workers, else (or with ``--serve separate``) as separate ``dokaz
    serve`` processes, each with its own pair of ports."""
    why = ""
    if how != "separate" and processes > 1:
        one = TorDeployment(dep, DOKAZ_WORKERS=str(processes), **env)
        try:
            one.wait_ready(120)
            return [one], f"one `dokaz serve --workers {processes}`"
        except AssertionError:
            if one.api.proc.poll() is None or how == "workers":
                raise
            dep.apis.remove(one.api)
            why = " (this checkout's dokaz serve refuses --workers > 1 with a staff port)"
    served = [TorDeployment(dep, **env) for _ in range(processes)]
    for s in served:
        s.wait_ready(120)
    return served, f"{processes} separate `dokaz serve` process(es){why}"


def seed_staff(dep: Deployment, count: int) -> list[StaffHandle]:
    """The recovery key and ``count`` caseworkers, with the standard Argon2 profile."""
    standard = dep.settings.model_copy(update={"kdf_profile": "standard"})
    with Session(dep.engine, expire_on_commit=False) as s:
        create_recovery_key_text(s)
        return [create_staff(s, Role.CASEWORKER, settings=standard) for _ in range(count)]


# ---- genuine clients -----------------------------------------------------------------


@dataclass
class Op:
    name: str
    start: float
    end: float
    ok: bool
    failure: str = ""
    phase: str = ""  # set after the run (Run.classify)

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Run:
    """The phase now and what the genuine clients did."""

    public: list[str]
    staff: list[str]
    think: float
    signin_every: float
    file_kib: int
    phase: str = "warmup"
    timeline: list[tuple[float, str]] = field(default_factory=list)  # (since, phase)
    known_signins: int = 0  # genuine sign-ins of the sprayed account (each clears its count)
    done: bool = False
    ops: list[Op] = field(default_factory=list)
    circuits: itertools.count[int] = field(
        default_factory=lambda: itertools.count(GENUINE_CIRCUITS))

    async def measure(self, name: str, action: Callable[[], Awaitable[str]]) -> bool:
        """Run one operation; ``action`` returns "" on success or the failure's kind."""
        start = time.monotonic()
        try:
            failure = await action()
        except httpx.HTTPError as exc:
            failure = type(exc).__name__
        self.ops.append(Op(name, start, time.monotonic(), not failure,
                           f"{name}: {failure}" if failure else ""))
        return not failure

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.timeline.append((time.monotonic(), phase))

    def classify(self) -> None:
        """Give each operation the phase it overlapped most."""
        spans = [(since, until, phase) for (since, phase), (until, _) in
                 zip(self.timeline, [*self.timeline[1:], (math.inf, "")], strict=True)]
        for op in self.ops:
            overlap = {phase: 0.0 for _, _, phase in spans}
            for since, until, phase in spans:
                overlap[phase] += max(0.0, min(until, op.end) - max(since, op.start))
            op.phase = max(overlap, key=lambda p: overlap[p], default="warmup")


def client(base_url: str, circuit: int | None = None) -> httpx.AsyncClient:
    """A client on the loopback: as Tor circuit ``circuit`` (the public port), or plain
    (the staff port). Never through a proxy from the environment, and cheap to make: one
    event loop opens hundreds (a default client loads the CA bundle, ~0.1 s of CPU)."""
    transport = AsyncCircuitTransport(circuit) if circuit is not None else \
        httpx.AsyncHTTPTransport(verify=False)
    return httpx.AsyncClient(base_url=base_url, timeout=120, trust_env=False,
                             transport=transport)


def expect(response: httpx.Response, status: int) -> str:
    """"" if ``response`` has ``status``, else its status and error code (a 503 also
    with the start of its message: several guards answer 503, and which one matters)."""
    if response.status_code == status:
        return ""
    code = ""
    with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
        error = response.json()["error"]
        code = " " + str(error["code"])
        if response.status_code == 503:
            code += ": " + " ".join(str(error["message"]).split()[:6])
    if not code and response.status_code == 503:
        code = ": " + " ".join(response.text.split()[:6])
    return f"{response.status_code}{code}"


async def genuine_circuit(run: Run, index: int) -> None:
    await asyncio.sleep(random.uniform(0, run.think))  # spread the starts
    for report in itertools.count(index):
        if run.done:
            return
        circuit = next(run.circuits)
        async with client(random.choice(run.public), circuit) as http:
            receipt: list[str] = []
            tus = report % 3 == 2
            ok = await run.measure("submit-tus" if tus else "submit",
                                   partial(submit, http, receipt, tus, run.file_kib))
            if ok:
                await run.measure("followup", partial(follow_up, http, receipt))
        await asyncio.sleep(random.uniform(0.5, 1.5) * run.think)


async def submit(http: httpx.AsyncClient, receipt: list[str], tus: bool, file_kib: int) -> str:
    files = [secrets.token_bytes(file_kib * 1024) for _ in range(random.randint(1, 2))]
    doc = sample_report(narrative="A genuine report " + secrets.token_hex(8))
    if tus:
        data = files.pop()
        r = await http.post("/api/v1/uploads", headers={
            **TUS, "Upload-Length": str(len(data)),
            "Upload-Metadata": "filename " + base64.b64encode(b"photo.bin").decode()})
        if failed := expect(r, 201):
            return "create " + failed
        location = r.headers["Location"]
        r = await http.patch(location, content=data, headers={
            **TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        if failed := expect(r, 204):
            return "patch " + failed
        doc["uploads"] = [location]
    if files:
        ctype, body = multipart_body(
            [("submission", json.dumps(doc))],
            [("files", f"evidence-{i}.bin", data) for i, data in enumerate(files)])
        r = await http.post("/api/v1/submissions", content=body,
                            headers={"Content-Type": ctype})
    else:
        r = await http.post("/api/v1/submissions", json=doc)
    if not (failed := expect(r, 201)):
        receipt.append(r.json()["receipt"])
    return failed


async def follow_up(http: httpx.AsyncClient, receipt: list[str]) -> str:
    r = await http.post("/api/v1/followup/session", json={"receipt": receipt[0]})
    if failed := expect(r, 201):
        return "session " + failed
    r = await http.post("/api/v1/followup/messages", json={"text": "Any news?"},
                        headers={"Authorization": f"Bearer {r.json()['token']}"})
    return expect(r, 201) and "message " + expect(r, 201)


async def genuine_staff(run: Run, accounts: list[StaffHandle]) -> None:
    """Sign-ins in turn over ``accounts``: each account's TOTP code works once per step."""
    used: dict[int, int] = dict.fromkeys(range(len(accounts)), -1)
    while not run.done:
        step = step_at(utcnow())
        free = [i for i, last in used.items() if last < step]
        if not free:
            await asyncio.sleep(1)
            continue
        # The sprayed account (0) signs in at every step it can; the others fill in.
        i = 0 if 0 in free else min(free, key=lambda j: used[j])
        used[i] = step
        handle = accounts[i]
        async with client(random.choice(run.staff)) as http:
            token: list[str] = []
            if await run.measure("signin", partial(signin, http, handle, step, token)):
                run.known_signins += i == 0
                await run.measure("cases", partial(cases, http, token))
        await asyncio.sleep(random.uniform(0.5, 1.5) * run.signin_every)


async def signin(http: httpx.AsyncClient, handle: StaffHandle, step: int, token: list[str]
                 ) -> str:
    r = await http.post("/api/v1/auth/login", json={
        "username": handle.user.username, "password": handle.password,
        "code": code_for_step(handle.totp_secret, step)})
    if not (failed := expect(r, 200)):
        token.append(r.json()["token"])
    return failed


async def cases(http: httpx.AsyncClient, token: list[str]) -> str:
    r = await http.get("/api/v1/cases?limit=50",
                       headers={"Authorization": f"Bearer {token[0]}"})
    return expect(r, 200)


# ---- attackers (in their own process) ------------------------------------------------


@dataclass
class Plan:
    public_ports: list[int]
    staff_ports: list[int]
    attackers: int
    rotating: int
    idle: int
    known_username: str
    concurrency: int


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)
    answers: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # Per circuit (or per receipt): what got through, for the budget checks.
    accepted_by_circuit: dict[str, Counter[int]] = field(
        default_factory=lambda: defaultdict(Counter))
    checks_by_receipt: Counter[str] = field(default_factory=Counter)
    circuits: set[int] = field(default_factory=set)
    idle: Counter[str] = field(default_factory=Counter)
    idle_held_max: float = 0.0

    def note(self, kind: str, answer: str) -> None:
        self.sent[kind] += 1
        self.answers[kind][answer] += 1

    def summary(self) -> dict[str, Any]:
        return {"sent": dict(self.sent),
                "answers": {k: dict(v) for k, v in self.answers.items()},
                "by_circuit_max": {k: max(v.values(), default=0)
                                   for k, v in self.accepted_by_circuit.items()},
                "by_circuit_total": {k: sum(v.values())
                                     for k, v in self.accepted_by_circuit.items()},
                "checks_by_receipt_max": max(self.checks_by_receipt.values(), default=0),
                "circuits": len(self.circuits), "idle": dict(self.idle),
                "idle_held_max_s": round(self.idle_held_max, 1)}


def random_receipt(lookup: str | None = None) -> str:
    body = (lookup or "".join(secrets.choice(CROCKFORD) for _ in range(8))) + \
        "".join(secrets.choice(CROCKFORD) for _ in range(24))
    return "-".join(body[i:i + 4] for i in range(0, 32, 4))


async def raw_exchange(port: int, data: bytes, timeout: float = 30) -> str:
    """Send ``data`` on a new connection; "HTTP <status>", "closed" (no answer) or an error."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout)
    except (OSError, TimeoutError) as exc:
        return type(exc).__name__
    try:
        writer.write(data)
        await writer.drain()
        head = await asyncio.wait_for(reader.read(64), timeout)
        return f"HTTP {int(head.split(b' ', 2)[1])}" if head.startswith(b"HTTP/1.1 ") \
            else "closed"
    except (OSError, TimeoutError, ValueError, IndexError) as exc:
        return type(exc).__name__
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class On(NamedTuple):
    """The client and circuit one request goes out on."""

    http: httpx.AsyncClient
    circuit: int


class Attacker:
    """One attacker circuit, looping over every cheap request it knows."""

    def __init__(self, plan: Plan, tally: Tally, circuits: itertools.count[int],
                 rotating: bool) -> None:
        self.plan, self.tally, self.circuits, self.rotating = plan, tally, circuits, rotating
        self.receipts: list[str] = []
        self.circuit = next(circuits)
        self.port = random.choice(plan.public_ports)
        self.http = self._client()
        # The staff port speaks plain HTTP (its onion service sends no PROXY header).
        self.staff_http = client("")
        self.retired: list[httpx.AsyncClient] = []  # clients of circuits given up
        self.stopping = False  # the slice ended: send nothing new

    def _client(self) -> httpx.AsyncClient:
        self.tally.circuits.add(self.circuit)
        return client(f"http://127.0.0.1:{self.port}", self.circuit)

    async def run(self, concurrency: int) -> None:
        """``concurrency`` loops on this circuit at once (a circuit carries many streams)."""
        try:
            await asyncio.gather(*(self.loop() for _ in range(concurrency)))
        finally:
            for http in (*self.retired, self.http, self.staff_http):
                await http.aclose()
            self.retired.clear()

    async def loop(self) -> None:
        kinds: list[Callable[[On], Awaitable[tuple[str, str]]]] = [
            self.malformed_json, self.wrong_content_type, self.huge_length,
            self.valid_submission, self.random_receipt, self.wrong_receipt,
            self.spray_random, self.spray_known, self.spray_public, self.tus_create,
            self.tus_huge_length, self.no_proxy_header]
        while True:
            random.shuffle(kinds)
            for attack in kinds:
                if self.stopping:
                    return
                name, on = attack.__name__.replace("_", "-"), On(self.http, self.circuit)
                try:
                    kind, answer = await attack(on)
                except httpx.HTTPError as exc:
                    kind, answer = name, type(exc).__name__
                except asyncio.CancelledError:
                    self.tally.note(name, f"no answer {GRACE:.0f} s after the slice")
                    raise
                self.tally.note(kind, answer)
                if answer == "429" and self.rotating and kind not in SPRAYS \
                        and on.circuit == self.circuit:  # one new circuit per refusal
                    self.retired.append(self.http)
                    self.circuit = next(self.circuits)
                    self.http = self._client()

    def _accepted(self, what: str, on: On) -> None:
        # The circuit the request went out on: a rotation may have happened since.
        self.tally.accepted_by_circuit[what][on.circuit] += 1

    async def _bad_submission(self, on: On, kind: str, body: bytes, content_type: str
                              ) -> tuple[str, str]:
        r = await on.http.post("/api/v1/submissions", content=body,
                               headers={"Content-Type": content_type})
        if r.is_success:
            self._accepted("submissions", on)
        return kind, str(r.status_code)

    async def malformed_json(self, on: On) -> tuple[str, str]:
        return await self._bad_submission(on, "malformed-json", b'{"reporter": {"role": ',
                                          "application/json")

    async def wrong_content_type(self, on: On) -> tuple[str, str]:
        return await self._bad_submission(on, "wrong-content-type", b"narrative=hello",
                                          "text/plain")

    async def huge_length(self, on: On) -> tuple[str, str]:
        head = (b"POST /api/v1/submissions HTTP/1.1\r\nHost: x.onion\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000000000000000\r\n\r\n{")
        answer = await raw_exchange(self.port, tor_header(on.circuit) + head)
        return "huge-length", answer.removeprefix("HTTP ")

    async def valid_submission(self, on: On) -> tuple[str, str]:
        r = await on.http.post("/api/v1/submissions", json=sample_report(
            narrative="spam " + secrets.token_hex(8)))
        if r.status_code == 201:
            self._accepted("submissions", on)
            self.receipts.append(r.json()["receipt"])
        return "valid-submission", str(r.status_code)

    async def _receipt(self, on: On, kind: str, receipt: str) -> tuple[str, str]:
        r = await on.http.post("/api/v1/followup/session", json={"receipt": receipt})
        if r.status_code == 201:
            self._accepted("followup-sessions", on)
        elif r.status_code == 401:  # the answer of a receipt check that ran Argon2id
            self._accepted("receipt-checks", on)
            self.tally.checks_by_receipt[receipt[:9]] += 1
        return kind, str(r.status_code)

    async def random_receipt(self, on: On) -> tuple[str, str]:
        return await self._receipt(on, "random-receipt", random_receipt())

    async def wrong_receipt(self, on: On) -> tuple[str, str]:
        real = self.receipts[0] if self.receipts else random_receipt()
        return await self._receipt(on, "wrong-receipt", random_receipt(real.replace("-", "")[:8]))

    async def _spray(self, on: On, kind: str, base: str, username: str) -> tuple[str, str]:
        http = self.staff_http if base else on.http
        r = await http.post(base + "/api/v1/auth/login", json={
            "username": username, "password": secrets.token_urlsafe(12), "code": "000000"})
        if r.status_code == 200:
            self._accepted("sign-ins", on)
        return kind, str(r.status_code)

    def _staff(self) -> str:
        return f"http://127.0.0.1:{random.choice(self.plan.staff_ports)}"

    async def spray_random(self, on: On) -> tuple[str, str]:
        return await self._spray(on, "spray-random", self._staff(), "user-" + secrets.token_hex(4))

    async def spray_known(self, on: On) -> tuple[str, str]:
        return await self._spray(on, "spray-known", self._staff(), self.plan.known_username)

    async def spray_public(self, on: On) -> tuple[str, str]:
        return await self._spray(on, "spray-public", "", self.plan.known_username)

    async def tus_create(self, on: On) -> tuple[str, str]:
        r = await on.http.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "4096"})
        if r.status_code == 201:
            self._accepted("uploads", on)
        return "tus-create", str(r.status_code)

    async def tus_huge_length(self, on: On) -> tuple[str, str]:
        r = await on.http.post("/api/v1/uploads",
                                 headers={**TUS, "Upload-Length": str(10**15)})
        if r.status_code == 201:
            self._accepted("uploads", on)
        return "tus-huge-length", str(r.status_code)

    async def no_proxy_header(self, on: On) -> tuple[str, str]:
        answer = await raw_exchange(self.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return "no-proxy-header", answer


SPRAYS = ("spray-random", "spray-known", "spray-public")
GRACE = 30.0  # seconds an attacker request in flight at a slice's end may still take


async def idle_patch(plan: Plan, tally: Tally, circuit: int, trickle: bool) -> None:
    """A tus upload, then a PATCH that sends its headers and then nothing (or a byte every
    3 s) until the server closes it or the flood slice ends."""
    kind = "trickle-patch" if trickle else "idle-patch"
    port = random.choice(plan.public_ports)
    tally.circuits.add(circuit)
    try:
        async with client(f"http://127.0.0.1:{port}", circuit) as http:
            r = await http.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "1048576"})
    except httpx.HTTPError as exc:
        tally.idle[f"{kind}: create {type(exc).__name__}"] += 1
        return
    except asyncio.CancelledError:
        tally.idle[f"{kind}: creation not answered by the slice's end"] += 1
        raise
    if r.status_code != 201:
        tally.idle[f"{kind}: create {r.status_code}"] += 1
        return
    tally.accepted_by_circuit["uploads"][circuit] += 1
    head = (f"PATCH {r.headers['Location']} HTTP/1.1\r\nHost: x.onion\r\nTus-Resumable: 1.0.0"
            "\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
            "Content-Length: 1048576\r\n\r\n").encode()
    start, outcome = time.monotonic(), "open at slice end"
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        tally.idle[f"{kind}: connect {type(exc).__name__}"] += 1
        return
    try:
        writer.write(tor_header(circuit) + head)
        await writer.drain()
        while True:
            try:
                data = await asyncio.wait_for(reader.read(64), 3)
            except TimeoutError:
                if trickle:
                    writer.write(b"x")
                    await writer.drain()
                continue
            outcome = (f"answered {data.split(b' ', 2)[1].decode(errors='replace')}"
                       if data.startswith(b"HTTP/1.1 ") else "closed by the server")
            break
    except OSError as exc:
        outcome = f"broken ({type(exc).__name__})"
    finally:
        tally.idle[f"{kind}: {outcome}"] += 1
        tally.idle_held_max = max(tally.idle_held_max, time.monotonic() - start)
        writer.close()


async def attack(plan: Plan, flood: Any, stop: Any, ready: Any) -> dict[str, Any]:
    tally = Tally()
    circuits = itertools.count(ATTACKER_CIRCUITS)
    idle_circuits = itertools.count(IDLE_CIRCUITS)
    attackers = [Attacker(plan, tally, circuits, rotating=i < plan.rotating)
                 for i in range(plan.attackers)]
    ready.set()
    while not stop.is_set():
        if not flood.is_set():
            await asyncio.sleep(0.05)
            continue
        tasks = [asyncio.create_task(a.run(plan.concurrency)) for a in attackers]
        tasks += [asyncio.create_task(idle_patch(plan, tally, next(idle_circuits), i % 2 == 1))
                  for i in range(plan.idle)]
        while flood.is_set() and not stop.is_set():
            await asyncio.sleep(0.05)
        # The slice is over: idle connections close now; requests in flight get up to
        # GRACE seconds for their answer (the server works on them either way, and their
        # answers are what the budget checks count).
        for a in attackers:
            a.stopping = True
        for task in tasks[len(attackers):]:
            task.cancel()
        if attackers:
            await asyncio.wait(tasks[:len(attackers)], timeout=GRACE)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for a in attackers:  # fresh clients for the next slice (the old ones are closed)
            a.http, a.staff_http, a.stopping = a._client(), client(""), False
    for a in attackers:
        await a.http.aclose()
        await a.staff_http.aclose()
    return tally.summary()


def raise_fd_limit() -> None:
    """The clients' own descriptor limit up to the hard one: the idle connections are the
    attack, the bench must not run out first."""
    with contextlib.suppress(ValueError, OSError):
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def attack_process(plan: Plan, flood: Any, stop: Any, ready: Any, out: Any) -> None:
    raise_fd_limit()
    out.put(asyncio.run(attack(plan, flood, stop, ready)))


# ---- measuring the servers -----------------------------------------------------------


@dataclass
class Peaks:
    """Peak open descriptors and resident memory (VmHWM) of every API process: the
    ``dokaz serve`` processes started and, with ``--workers``, their worker children."""

    roots: list[int]
    fds: dict[int, int] = field(default_factory=dict)
    rss: dict[int, int] = field(default_factory=dict)

    def pids(self) -> list[int]:
        out: list[int] = []
        for root in self.roots:
            out += _serving(root)
        return out

    def sample(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(OSError, ValueError):
                self.fds[pid] = max(self.fds.get(pid, 0), len(os.listdir(f"/proc/{pid}/fd")))
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.rss[pid] = int(line.split()[1]) * 1024


def _serving(pid: int) -> list[int]:
    """The processes under ``pid`` that serve: a supervisor only starts workers, and with
    a staff port ``dokaz serve`` starts a supervisor per process group, so the workers are
    the leaves. (A multiprocessing resource tracker is a child too, and serves nothing.)"""
    children: list[int] = []
    with contextlib.suppress(OSError, ValueError):
        children = [int(c) for c in
                    Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    workers = [c for c in children if b"resource_tracker" not in _cmdline(c)]
    return [leaf for c in workers for leaf in _serving(c)] or [pid]


def _cmdline(pid: int) -> bytes:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    return b""


async def sample_peaks(peaks: Peaks, run: Run) -> None:
    while not run.done:
        peaks.sample()
        await asyncio.sleep(0.25)
    peaks.sample()


# ---- the figures ---------------------------------------------------------------------


def percentile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def ms(value: float) -> float:
    return round(value * 1000, 1) if not math.isnan(value) else float("nan")


def latency_figures(ops: list[Op]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for phase, name in (("baseline", "base"), ("flood", "flood")):
        lat = [o.seconds for o in ops if o.ok and o.phase == phase]
        out[f"p50_{name}_ms"] = ms(percentile(lat, 50))
        out[f"p95_{name}_ms"] = ms(percentile(lat, 95))
    base, flood = out["p95_base_ms"], out["p95_flood_ms"]
    out["p95_ratio"] = round(flood / base, 2) if base and not math.isnan(base) else float("nan")
    return out


def bounds(limits: Settings, att: dict[str, Any], run_seconds: float, processes: int,
           genuine_submissions: int, known_signins: int) -> list[dict[str, Any]]:
    """What the settings allow the attackers, next to what they got (one row each)."""
    minutes = math.ceil(run_seconds / 60)
    circuit_max, total = att["by_circuit_max"], att["by_circuit_total"]
    uploads_per_circuit = limits.intake_rate_per_client_per_hour * max(
        1, limits.max_files_per_submission)
    rows = [
        ("submissions accepted on one circuit", circuit_max.get("submissions", 0),
         limits.intake_rate_per_client_per_hour, "DOKAZ_INTAKE_RATE_PER_CLIENT_PER_HOUR"),
        ("submissions accepted, all (with genuine)",
         total.get("submissions", 0) + genuine_submissions,
         limits.intake_rate_global_per_minute * minutes,
         f"DOKAZ_INTAKE_RATE_GLOBAL_PER_MINUTE x {minutes} min"),
        ("receipt checks (Argon2id) on one circuit", circuit_max.get("receipt-checks", 0),
         limits.receipt_attempts_per_hour, "DOKAZ_RECEIPT_ATTEMPTS_PER_HOUR"),
        ("receipt checks against one receipt", att["checks_by_receipt_max"],
         limits.receipt_attempts_per_hour, "DOKAZ_RECEIPT_ATTEMPTS_PER_HOUR"),
        ("follow-up sessions opened with a wrong receipt",
         total.get("followup-sessions", 0), 0, "none"),
        ("sign-ins accepted with wrong passwords", total.get("sign-ins", 0), 0, "none"),
        ("wrong passwords checked for the known account",
         _not_refused(att, "spray-known"),
         _account_checks(limits, run_seconds) * (1 + known_signins),
         f"DOKAZ_LOGIN_FREE_FAILURES_PER_ACCOUNT + the doubling delays that end within "
         f"{run_seconds:.0f} s, x (1 + {known_signins} genuine sign-ins of it, each clears "
         "the count)"),
        ("sign-in attempts checked, all",
         _not_refused(att, "spray-known") + _not_refused(att, "spray-random"),
         limits.login_attempts_global_per_minute * minutes * processes,
         f"DOKAZ_LOGIN_ATTEMPTS_GLOBAL_PER_MINUTE x {minutes} min x {processes} processes"),
        ("uploads created on one circuit", circuit_max.get("uploads", 0), uploads_per_circuit,
         "DOKAZ_INTAKE_RATE_PER_CLIENT_PER_HOUR x DOKAZ_MAX_FILES_PER_SUBMISSION"),
        ("connections without a PROXY header answered",
         sum(n for a, n in att["answers"].get("no-proxy-header", {}).items()
             if a.startswith("HTTP")), 0, "none"),
    ]
    return [{"what": w, "got": got, "bound": bound, "from": src, "ok": got <= bound}
            for w, got, bound, src in rows]


def _account_checks(limits: Settings, run_seconds: float) -> int:
    """The most wrong passwords one account can have checked in ``run_seconds``: its free
    failures, then one per delay (doubling from the first, at most the cap) that ends
    within the run (api/auth/throttle.py Backoff)."""
    backoff = Backoff.for_accounts(limits)
    checks, waited = backoff.free, 0.0
    while True:
        wait = backoff.delay(checks)
        if waited + wait > run_seconds:
            return checks
        waited += wait
        checks += 1


def _not_refused(att: dict[str, Any], kind: str) -> int:
    """Attempts the server evaluated (answered 401: the password was checked)."""
    return int(att["answers"].get(kind, {}).get("401", 0))


def figures(run: Run, att: dict[str, Any], limits: Settings, args: argparse.Namespace,
            run_seconds: float, peaks: Peaks, serving: str) -> dict[str, Any]:
    measured = [o for o in run.ops if o.phase in ("baseline", "flood")]
    fig: dict[str, Any] = {"seconds_flood": args.seconds, "slices": args.slices,
                           "processes": args.processes, "genuine_circuits": args.genuine,
                           "attackers": args.attackers, "rotating": args.rotating,
                           "concurrency": args.concurrency,
                           "idle_connections": args.idle}
    genuine: dict[str, Any] = {}
    for name in GENUINE_OPS:
        ops = [o for o in measured if o.name == name]
        ok = sum(o.ok for o in ops)
        genuine[name] = {"ok": ok, "total": len(ops),
                         "success_pct": round(100 * ok / len(ops), 1) if ops else float("nan"),
                         **latency_figures(ops)}
    ok = sum(o.ok for o in measured)
    fig["genuine"] = genuine
    fig["genuine_ok"], fig["genuine_total"] = ok, len(measured)
    fig["genuine_success_pct"] = round(100 * ok / len(measured), 1) if measured else 0.0
    fig.update({f"genuine_{k}": v for k, v in latency_figures(measured).items()})
    fig["genuine_failures"] = dict(Counter(f"{o.failure} [{o.phase}]"
                                           for o in measured if not o.ok))
    subs = sum(o.ok for o in run.ops if o.name.startswith("submit"))
    fig["attackers_sent"] = sum(att["sent"].values())
    fig["attackers_per_s"] = round(fig["attackers_sent"] / args.seconds, 1)
    fig["genuine_per_s"] = round(len(measured) / (2 * args.seconds), 2)
    fig["attack"] = att
    fig["bounds"] = bounds(limits, att, run_seconds, args.processes, subs, run.known_signins)
    fig["budgets"] = budgets(limits)
    fig["serving"] = serving
    fig["server"] = {f"api{i}": {"pid": pid, "peak_fds": peaks.fds[pid],
                                 "peak_rss_mib": round(peaks.rss.get(pid, 0) / 2**20, 1)}
                     for i, pid in enumerate(sorted(peaks.fds))}
    fig["server_rss_peak_mib"] = round(max(peaks.rss.values(), default=0) / 2**20, 1)
    fig["server_fds_peak"] = max(peaks.fds.values(), default=0)
    judged_ratio = not args.smoke
    fig["targets"] = {
        "genuine success 100 %": fig["genuine_success_pct"] == 100.0,
        "genuine p95 flood/baseline <= 3": (fig["genuine_p95_ratio"] <= 3)
        if judged_ratio else None,
        "attackers within their budgets": all(b["ok"] for b in fig["bounds"]),
    }
    fig["targets_missed"] = sum(v is False for v in fig["targets"].values())
    fig["pass"] = fig["targets_missed"] == 0
    return fig


def print_report(fig: dict[str, Any], out: TextIO) -> None:
    def p(line: str) -> None:
        print(line, file=out)

    p(f"Abuse over Tor: {fig['serving']}; PROXY protocol on the public port(s), a staff "
      "port beside each, one PostgreSQL database, data directory and Redis; Argon2id "
      "standard profile")
    p(f"{fig['slices']} baseline + {fig['slices']} flood slices, interleaved, "
      f"{fig['seconds_flood']:.0f} s of flood; {fig['genuine_circuits']} genuine circuits "
      f"(a new circuit per report) + staff sign-ins; {fig['attackers']} attacker circuits "
      f"({fig['rotating']} rotating on 429; {fig['concurrency']} requests in flight on each), "
      f"{fig['idle_connections']} idle/trickling PATCH "
      "connections per flood slice")
    p("budgets: " + ", ".join(f"{k}={v}" for k, v in fig["budgets"].items()))
    p(f"{'genuine':<12}{'ok/total':>11}{'success':>9}{'p50 base':>10}{'p95 base':>10}"
      f"{'p50 flood':>11}{'p95 flood':>11}{'ratio':>7}   (ms)")
    rows = [*fig["genuine"].items(), ("overall", {
        "ok": fig["genuine_ok"], "total": fig["genuine_total"],
        "success_pct": fig["genuine_success_pct"],
        **{k.removeprefix("genuine_"): v for k, v in fig.items()
           if k.startswith("genuine_p")}})]
    for name, g in rows:
        p(f"{name:<12}{str(g['ok']) + '/' + str(g['total']):>11}{g['success_pct']:>8}%"
          f"{g['p50_base_ms']:>10}{g['p95_base_ms']:>10}{g['p50_flood_ms']:>11}"
          f"{g['p95_flood_ms']:>11}{g['p95_ratio']:>7}")
    for failure, n in sorted(fig["genuine_failures"].items(), key=lambda x: -x[1]):
        p(f"  genuine failure x{n}: {failure}")
    att = fig["attack"]
    p(f"genuine: {fig['genuine_per_s']} operations/s; attackers: {fig['attackers_sent']} "
      f"requests ({fig['attackers_per_s']}/s of flood) on {att['circuits']} circuits")
    for kind, n in sorted(att["sent"].items()):
        answers = ", ".join(f"{a} x{c}" for a, c in sorted(att["answers"][kind].items(),
                                                           key=lambda x: -x[1]))
        p(f"  {kind:<20}{n:>7}  {answers}")
    for outcome, n in sorted(att["idle"].items()):
        p(f"  {outcome} x{n}")
    p(f"  longest-held idle/trickling PATCH: {att['idle_held_max_s']} s")
    p(f"{'attackers got':<50}{'got':>7}{'bound':>8}  from")
    for b in fig["bounds"]:
        p(f"{b['what']:<50}{b['got']:>7}{b['bound']:>8}  {b['from']}"
          f"{'' if b['ok'] else '  OVER BUDGET'}")
    for name, s in fig["server"].items():
        p(f"server {name} (pid {s['pid']}): peak RSS {s['peak_rss_mib']} MiB, peak open fds "
          f"{s['peak_fds']}")
    for target, ok in fig["targets"].items():
        p(f"{'PASS' if ok else 'not judged (--smoke)' if ok is None else 'FAIL'}: {target}")


def flat(fig: dict[str, Any]) -> dict[str, Any]:
    """The figures as one flat dict of numbers (for bench/versus.py) and a few strings."""
    out: dict[str, Any] = {k: v for k, v in fig.items()
                           if isinstance(v, int | float | bool)}
    for name, g in fig["genuine"].items():
        out.update({f"{name}.{k}": v for k, v in g.items()})
    for name, s in fig["server"].items():
        out.update({f"{name}.{k}": v for k, v in s.items() if k != "pid"})
    for kind, n in fig["attack"]["sent"].items():
        out[f"attack.{kind}.sent"] = n
        out[f"attack.{kind}.accepted"] = sum(
            c for a, c in fig["attack"]["answers"][kind].items() if a in ("200", "201"))
    for b in fig["bounds"]:
        key = re.sub(r"[^a-z0-9]+", "_", b["what"].lower()).strip("_")
        out[f"bound.{key}.got"], out[f"bound.{key}.bound"] = b["got"], b["bound"]
    out["genuine_failures"] = fig["genuine_failures"]
    out["targets"] = fig["targets"]
    return out


# ---- the run -------------------------------------------------------------------------


async def drive(run: Run, accounts: list[StaffHandle], args: argparse.Namespace,
                flood: Any, peaks: Peaks) -> None:
    tasks = [asyncio.create_task(genuine_circuit(run, i)) for i in range(args.genuine)]
    tasks.append(asyncio.create_task(genuine_staff(run, accounts)))
    sampler = asyncio.create_task(sample_peaks(peaks, run))
    run.enter("warmup")
    await asyncio.sleep(args.warmup)
    slice_seconds = args.seconds / args.slices
    for _ in range(args.slices):
        for phase in ("baseline", "flood"):
            run.enter(phase)
            (flood.set if phase == "flood" else flood.clear)()
            await asyncio.sleep(slice_seconds)
    flood.clear()
    run.enter("end")
    run.done = True
    await asyncio.gather(*tasks)
    await sampler


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="of flood, in all")
    parser.add_argument("--slices", type=int, default=4,
                        help="baseline/flood slice pairs, interleaved")
    parser.add_argument("--warmup", type=float, default=10, help="seconds, not measured")
    parser.add_argument("--processes", type=int, default=2, help="API processes")
    parser.add_argument("--serve", choices=("auto", "workers", "separate"), default="auto",
                        help="auto: `dokaz serve --workers N` if this checkout serves a staff "
                        "port with workers, else N separate processes")
    parser.add_argument("--genuine", type=int, default=20, help="genuine circuits")
    parser.add_argument("--think", type=float, default=20,
                        help="mean seconds a genuine circuit waits between reports")
    parser.add_argument("--staff", type=int, default=10, help="staff accounts taking turns")
    parser.add_argument("--signin-every", type=float, default=4, help="seconds, mean")
    parser.add_argument("--file-kib", type=int, default=32, help="size of each genuine file")
    parser.add_argument("--attackers", type=int, default=8, help="attacker circuits")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="requests each attacker circuit has in flight at once")
    parser.add_argument("--rotating", type=int, default=4,
                        help="of them, take a new circuit id on every 429")
    parser.add_argument("--idle", type=int, default=200,
                        help="idle and trickling PATCH connections in each flood slice")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--report-only", action="store_true",
                        help="exit 0 even if a target is missed (for bench/versus.py)")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.slices, args.warmup, args.processes = 6, 2, 3, 2
        args.genuine, args.think, args.staff, args.signin_every = 4, 2, 3, 2
        args.attackers, args.rotating, args.idle, args.concurrency = 2, 1, 10, 2
    raise_fd_limit()
    env = deployment_env(f"dokaz-abuse-{secrets.token_hex(4)}:")
    limits = limits_of(env)
    ctx = multiprocessing.get_context("spawn")
    flood, stop, ready, out = ctx.Event(), ctx.Event(), ctx.Event(), ctx.Queue()
    with tempfile.TemporaryDirectory(prefix="dokaz-abuse-") as tmp, \
            shared_pg_database("dokaz_abuse") as url:
        dep = Deployment(Path(tmp), url)
        attacker: Any = None
        try:
            accounts = seed_staff(dep, args.staff)
            served, serving = serve(dep, env, args.processes, args.serve)
            plan = Plan([s.public_port for s in served], [s.staff_port for s in served],
                        args.attackers, args.rotating, args.idle, accounts[0].user.username,
                        args.concurrency)
            attacker = ctx.Process(target=attack_process, args=(plan, flood, stop, ready, out),
                                   daemon=True)
            attacker.start()
            if not ready.wait(120):
                raise SystemExit("the attacker process did not start")
            run = Run([f"http://127.0.0.1:{s.public_port}" for s in served],
                      [s.staff_url for s in served], args.think, args.signin_every,
                      args.file_kib)
            peaks = Peaks([s.api.proc.pid for s in served])
            started = time.monotonic()
            asyncio.run(drive(run, accounts, args, flood, peaks))
            run_seconds = time.monotonic() - started
            run.classify()
            stop.set()
            att = out.get(timeout=120)
            fig = figures(run, att, limits, args, run_seconds, peaks, serving)
        finally:
            stop.set()
            if attacker is not None:
                attacker.join(timeout=30)
                if attacker.is_alive():
                    attacker.kill()
            dep.close()
    if args.json:  # the report still goes to stderr, for a person watching
        print_report(fig, sys.stderr)
        print(json.dumps(flat(fig), indent=2, default=str))
    else:
        print_report(fig, sys.stdout)
    sys.exit(0 if fig["pass"] or args.report_only else 1)


if __name__ == "__main__":
    main()

