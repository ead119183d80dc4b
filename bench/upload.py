"""Benchmark: the encrypted intake path vs a plaintext-to-disk baseline, over loopback.

Starts uvicorn (httptools + uvloop, one worker) in a subprocess on a free port, with a
fresh SQLite database and data directory (real disk), then in the same run:

1. sends one ``--size-mib`` multipart upload (a ``submission`` JSON part and one file
   part) to ``POST /api/v1/submissions``: multipart parse + SHA-256 + AES-256-GCM records
   + write + fsync + the receipt's Argon2id + the database commit;
2. sends the *same bytes* to ``POST /bench/plain``, an endpoint that exists only in this
   benchmark's server: it parses the same multipart body with the same parser and writes
   each part's plaintext straight to a file (1 MiB writes in a worker thread) + fsync;
3. repeats both ``--repeat`` times (at least 3), the order flipped every round (AB BA
   AB ...), and reports each round's ratio encrypted/plain and their median (target >=
   0.8: one run each is dominated by fsync noise), with the server's peak RSS while the
   body streams (target < 150 MiB) and after the last byte, when the receipt's Argon2id
   runs (target: the streaming target plus 64 MiB per concurrent Argon2id);
4. holds ``--slow`` concurrent uploads at ``--slow-rate-kib`` KiB/s each (default 200
   at 64 KiB/s), reports errors (target: none) and the server's peak RSS while all the
   bodies stream (target: the streaming target plus ``--per-upload-kib``, 300 KiB, per
   upload in flight) and in all (plus 64 MiB for each Argon2id the server may run at
   once, ``DOKAZ_MAX_CONCURRENT_ARGON2``).

It exits non-zero when any target it prints is missed.

The client writes from one preallocated buffer over raw sockets, so it costs little
CPU next to the server on the same machine. Peak RSS is the server's VmHWM, reset via
/proc/<pid>/clear_refs between phases, and cross-checked by sampling VmRSS.

    .venv/bin/python bench/upload.py                      # 2048 MiB, 200 slow uploads
    .venv/bin/python bench/upload.py --size-mib 256 --slow 50 --slow-kib 256
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Request

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # allow running as a plain script
    sys.path.insert(0, str(ROOT))

MiB = 1024 * 1024
MB = 1_000_000
BLOCK = 4 * MiB

REPORT = {
    "reporter": {"role": "witness"},
    "acts": ["detention"],
    "where": {"region": "BY-HM"},
    "narrative": "benchmark",
    "consent": {"internal_handling": True},
    "language": "en",
}


# ---- server side -------------------------------------------------------------------------


def build_bench_app(surface: str = "all") -> Any:
    """The real app (of ``surface``: "all", or "public" as the public port of a deployment
    with the staff surface on its own port) plus /bench/plain (never part of the
    product)."""
    import anyio.to_thread

    from api.app import create_app
    from api.core.settings import get_settings
    from api.core.surfaces import Surface
    from api.ingress.multipart import MultipartLimits, PartInfo, parse_multipart

    settings = get_settings()
    app = create_app(settings, surface=Surface(surface))
    out_dir = settings.data_dir / "bench-plain"
    out_dir.mkdir(exist_ok=True)

    class PlainSink:
        def __init__(self, path: Path) -> None:
            self.file = open(path, "wb", buffering=0)  # noqa: SIM115 (closed in close/abort)
            self.buf = bytearray()
            self.size = 0

        def _flush(self, data: bytes) -> None:
            self.file.write(data)

        async def write(self, data: bytes, /) -> None:
            self.buf += data
            self.size += len(data)
            if len(self.buf) >= MiB:
                chunk, self.buf = bytes(self.buf), bytearray()
                await anyio.to_thread.run_sync(self._flush, chunk)

        async def close(self) -> None:
            def finish(data: bytes) -> None:
                self.file.write(data)
                os.fsync(self.file.fileno())
                self.file.close()

            await anyio.to_thread.run_sync(finish, bytes(self.buf))

        def abort(self) -> None:
            self.file.close()

    class PlainHandler:
        def __init__(self) -> None:
            self.sinks: list[PlainSink] = []

        async def open_part(self, info: PartInfo, /) -> PlainSink:
            sink = PlainSink(out_dir / f"part{len(self.sinks)}")
            self.sinks.append(sink)
            return sink

    @app.post("/bench/plain")
    async def plain(request: Request) -> dict[str, int]:
        handler = PlainHandler()
        limits = MultipartLimits(max_body_bytes=settings.max_submission_bytes)
        await parse_multipart(request.stream(), request.headers.get("content-type"), handler,
                              limits)
        return {"bytes": sum(s.size for s in handler.sinks)}

    return app


def serve(port: int, surface: str = "all") -> None:
    import uvicorn

    from api.core.memory import tune_malloc
    from api.core.server import HeaderTimeoutProtocol
    from api.core.settings import get_settings

    tune_malloc(get_settings())  # as every `dokaz serve` process does (api/core/server.py)
    # The HTTP protocol `dokaz serve` runs (uvicorn's httptools one, with the header
    # timeout and the body hand-off of api/core/server.py), not uvicorn's own.
    uvicorn.run(build_bench_app(surface), host="127.0.0.1", port=port, loop="uvloop",
                http=HeaderTimeoutProtocol, log_level="warning", access_log=False,
                backlog=4096, timeout_keep_alive=30)


# ---- client side -------------------------------------------------------------------------


def free_port() -> int:
    """A free loopback port; from ``BENCH_PORTS`` ("LOW-HIGH") when set, so that benches
    sharing a machine can keep to the ports they were given."""
    span = os.environ.get("BENCH_PORTS")
    low, high = (int(x) for x in span.split("-")) if span else (0, 0)
    for candidate in range(low, high + 1) if span else [0]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port: int = s.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise SystemExit(f"no free port in BENCH_PORTS={span}")


_handed_out: set[int] = set()  # ports given out, not yet bound by their server


def body_parts(size: int) -> tuple[bytes, bytes, str]:
    boundary = "bench" + secrets.token_hex(12)
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"submission\"\r\n"
        f"Content-Type: application/json\r\n\r\n{json.dumps(REPORT)}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
        f"filename=\"video.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head, tail, f"multipart/form-data; boundary={boundary}"


def request_head(path: str, port: int, ctype: str, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = bytearray()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    status = int(data.split(b" ", 2)[1]) if data else 0
    return status, bytes(data.split(b"\r\n\r\n", 1)[-1])


def upload(port: int, path: str, size: int, block: memoryview,
           sent: Callable[[], None] = lambda: None) -> tuple[float, int, bytes]:
    head, tail, ctype = body_parts(size)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MiB)
        started = time.perf_counter()
        sock.sendall(request_head(path, port, ctype, len(head) + size + len(tail)) + head)
        left = size
        while left:
            n = min(left, len(block))
            sock.sendall(block[:n])
            left -= n
        sock.sendall(tail)
        sent()
        status, body = read_response(sock)
        return time.perf_counter() - started, status, body


async def slow_upload(port: int, size: int, rate: int,
                      body_sent: Callable[[], None] = lambda: None) -> tuple[int, bytes]:
    head, tail, ctype = body_parts(size)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request_head("/api/v1/submissions", port, ctype,
                              len(head) + size + len(tail)) + head)
    piece = os.urandom(rate // 4)
    sent = 0
    while sent < size:
        n = min(len(piece), size - sent)
        writer.write(piece[:n])
        await writer.drain()
        sent += n
        await asyncio.sleep(0.25)
    writer.write(tail)
    await writer.drain()
    body_sent()
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1]) if data else 0
    return status, data.split(b"\r\n\r\n", 1)[-1][:200]


HASH_HOLD = 0.2  # seconds a look that saw a hash running still counts (see RssWatcher)


class RssWatcher:
    """Peak RSS of a process: VmHWM (reset per phase) and sampled VmRSS.

    Also the peak *net of Argon2id*: each sample subtracts the Argon2id working memory
    resident then (libargon2 mallocs it in one piece, above the mmap threshold: its own
    mapping, which the kernel may join with its neighbours; see _argon2_resident), at
    most 64 MiB for each Argon2 thread of the server seen running (_hashing). A
    receipt's Argon2id starts when its request does (api.intake.service.receipt_ahead)
    and the receipt stock refills meanwhile, so hashes run while bodies stream by design;
    the streaming target is for what streaming itself holds, and each hash is allowed
    its 64 MiB on top."""

    def __init__(self, pid: int, argon2_bytes: int = 64 * MiB) -> None:
        self.pid = pid
        self.sampled = 0
        self.while_streaming = 0
        self.net_streaming = 0  # while_streaming less the Argon2id mappings resident then
        self.hashes_streaming = 0  # the most Argon2id mappings seen at once while streaming
        self.streaming = True
        self._argon2_bytes = argon2_bytes
        self._hash_cpu: dict[int, int] = {}  # CPU ticks of each Argon2 thread, last look
        self._recent: list[tuple[float, int]] = []  # (when, Argon2 threads running)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _field(self, name: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def _argon2_resident(self) -> tuple[int, int, int]:
        """(bytes, hashes) of Argon2id working memory resident now, and the whole RSS
        summed from the same reading: VmRSS read apart from it could catch a hash that
        had ended (or begun) in between, which counted its 64 MiB as streaming memory.

        The kernel merges adjacent anonymous mappings, so a hash's 64 MiB may sit in one
        mapping with a few buffers beside it: every anonymous mapping larger than one
        hash's is taken to hold as many hashes as fit in it, and at most that much of
        what it has resident is subtracted. (A glibc arena heap is at most 64 MiB exactly,
        so it is never mistaken for one.)"""
        total = count = rss = 0
        size, anonymous = 0, False
        for line in Path(f"/proc/{self.pid}/smaps").read_text().splitlines():
            fields = line.split()
            if "-" in fields[0] and ":" not in fields[0]:
                low, high = (int(x, 16) for x in fields[0].split("-"))
                size, anonymous = high - low, len(fields) < 6
            elif fields[0] == "Rss:":
                rss += int(fields[1]) * 1024
                if anonymous and size > self._argon2_bytes:
                    hashes = size // (self._argon2_bytes + 4096)
                    total += min(int(fields[1]) * 1024, hashes * self._argon2_bytes)
                    count += hashes
        # A mapping that size may also be plain buffers the kernel joined: only as many
        # hashes count as the server's Argon2 threads showed running (below) within the
        # last HASH_HOLD seconds: a look can fall between two of a hash's slices.
        now = time.monotonic()
        self._recent = [(t, n) for t, n in self._recent if now - t < HASH_HOLD]
        self._recent.append((now, self._hashing()))
        running = max(n for _, n in self._recent)
        return min(total, running * self._argon2_bytes), min(count, running), rss

    def _hashing(self) -> int:
        """Argon2 threads running now: the server runs hashes in threads of their own,
        niced (api/ingress/argon2.py), and nothing else there is; a thread counts when it
        is running or used CPU since the last look. Missing one only overstates memory."""
        running = 0
        seen: dict[int, int] = {}
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[16]) <= 0:  # nice: the hashing threads run below the rest
                    continue
                tid, cpu = int(task.name), int(fields[11]) + int(fields[12])
                seen[tid] = cpu
                if fields[0] == "R" or cpu > self._hash_cpu.get(tid, cpu):
                    running += 1
        self._hash_cpu = seen
        return running

    def idle(self) -> int:
        return self._field("VmRSS")

    def start(self) -> None:
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # reset VmHWM
        self.sampled = self.while_streaming = self._field("VmRSS")
        self.net_streaming, self.hashes_streaming = self.while_streaming, 0
        self.streaming = True
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(0.02):
                try:
                    rss = self._field("VmRSS")
                    argon2, hashes, mapped = (self._argon2_resident() if self.streaming
                                              else (0, 0, 0))
                except OSError:
                    return
                self.sampled = max(self.sampled, rss)
                if self.streaming:
                    self.while_streaming = max(self.while_streaming, rss)
                    self.net_streaming = max(self.net_streaming, mapped - argon2)
                    self.hashes_streaming = max(self.hashes_streaming, hashes)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def body_sent(self) -> None:
        self.streaming = False

    def stop(self) -> int:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return max(self.sampled, self._field("VmHWM"))


def prepare(data_dir: Path, env: dict[str, str]) -> None:
    os.environ.update(env)
    from sqlmodel import Session

    from api.core import migrations
    from api.core.db import make_engine
    from api.core.settings import Settings
    from api.keys.service import create_recovery_key

    settings = Settings()
    migrations.upgrade(settings)
    engine = make_engine(settings)
    with Session(engine) as s:
        create_recovery_key(s)
        s.commit()
    engine.dispose()


def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if read_response(s)[0] == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def mb_s(size: int, seconds: float) -> float:
    return size / MB / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds of one encrypted and one plain upload (at least 3)")
    parser.add_argument("--min-ratio", type=float, default=0.8)
    parser.add_argument("--max-streaming-mib", type=float, default=150,
                        help="server peak RSS while a body streams, at most")
    parser.add_argument("--argon2-mib", type=float, default=64,
                        help="allowance on top of it per concurrent Argon2id")
    parser.add_argument("--per-upload-kib", type=float, default=300,
                        help="allowance per upload in flight in the slow phase (the "
                             "README's bound: ~0.3 MiB each)")
    parser.add_argument("--slow", type=int, default=200, help="concurrent slow uploads")
    parser.add_argument("--slow-rate-kib", type=int, default=64)
    parser.add_argument("--slow-kib", type=int, default=1536, help="bytes per slow upload")
    parser.add_argument("--slow-ramp", type=float, default=8.0,
                        help="seconds over which the slow uploads start")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.repeat < 3:
        parser.error("--repeat must be at least 3: one run per side is fsync noise")

    size = args.size_mib * MiB
    tmp = Path(tempfile.mkdtemp(prefix="dokaz-bench-", dir=os.environ.get("BENCH_DIR")))
    data_dir = tmp / "data"
    env = {
        "DOKAZ_DATA_DIR": str(data_dir), "DOKAZ_LOG_LEVEL": "WARNING",
        "DOKAZ_MAX_FILE_BYTES": str(size + MiB),
        "DOKAZ_MAX_SUBMISSION_BYTES": str(size + 4 * MiB),
        "DOKAZ_INTAKE_RATE_PER_CLIENT_PER_HOUR": "1000000",
        "DOKAZ_INTAKE_RATE_GLOBAL_PER_MINUTE": "1000000",
        "DOKAZ_MIN_FREE_DISK_BYTES": str(256 * MiB),
        # Every upload here comes from one address: the per-client connection and upload
        # caps (the abuse defences) would refuse the slow phase's own traffic.
        "DOKAZ_MAX_CONNECTIONS": "2000",
        "DOKAZ_MAX_CONNECTIONS_PER_CLIENT": "2000",
        "DOKAZ_MAX_UPLOADS_IN_FLIGHT": "1000",
        "DOKAZ_MAX_UPLOADS_IN_FLIGHT_PER_CLIENT": "1000",
    }
    data_dir.mkdir(mode=0o700)
    prepare(data_dir, env)
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)],
                            env={**os.environ, **env}, cwd=ROOT)
    try:
        wait_ready(port, proc)
        misses = run(args, port, proc, size, data_dir)
    finally:
        if proc.poll() is not None:
            print(f"the server exited with code {proc.returncode}", file=sys.stderr)
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    print("MISSED: " + "; ".join(misses) if misses else "all targets met")
    sys.exit(1 if misses else 0)


def run(args: argparse.Namespace, port: int, proc: subprocess.Popen[bytes], size: int,
        data_dir: Path) -> list[str]:
    """Both phases; returns the targets missed."""
    block = memoryview(os.urandom(BLOCK))
    watcher = RssWatcher(proc.pid)
    mib = args.max_streaming_mib
    print(f"upload of {args.size_mib} MiB over loopback, uvicorn httptools+uvloop, 1 worker")
    seconds_of: dict[str, list[float]] = {"encrypted": [], "plain": []}
    ratios: list[float] = []
    peak = streaming_peak = net_peak = streaming_hashes = 0
    idle = watcher.idle()
    print(f"server RSS at rest (the whole app, every feature loaded): {idle / MiB:.0f} MiB")
    for i in range(args.repeat):
        order: list[tuple[str, str]] = [("encrypted", "/api/v1/submissions"),
                                        ("plain", "/bench/plain")]
        took: dict[str, float] = {}
        for name, path in order if i % 2 == 0 else order[::-1]:
            watcher.start()
            seconds, status, body = upload(port, path, size, block, watcher.body_sent)
            rss = watcher.stop()
            expected = 201 if name == "encrypted" else 200
            if status != expected:
                raise SystemExit(f"{name}: HTTP {status}: {body[:300]!r}")
            if name == "encrypted":
                peak = max(peak, rss)
                streaming_peak = max(streaming_peak, watcher.while_streaming)
                net_peak = max(net_peak, watcher.net_streaming)
                streaming_hashes = max(streaming_hashes, watcher.hashes_streaming)
                _remove_blobs(data_dir)
            print(f"  {name:9s} run {i + 1}: {mb_s(size, seconds):7.1f} MB/s "
                  f"({seconds:.2f} s), server peak RSS {rss / MiB:.0f} MiB "
                  f"({watcher.while_streaming / MiB:.0f} MiB while the body streamed, "
                  f"{watcher.net_streaming / MiB:.0f} MiB net of "
                  f"{watcher.hashes_streaming} Argon2id)")
            took[name] = seconds
            seconds_of[name].append(seconds)
        ratios.append(took["plain"] / took["encrypted"])  # = encrypted MB/s / plain MB/s
    ratio = statistics.median(ratios)
    enc = mb_s(size, statistics.median(seconds_of["encrypted"]))
    plain = mb_s(size, statistics.median(seconds_of["plain"]))
    print(f"encrypted intake : {enc:7.1f} MB/s (median of {args.repeat})")
    print(f"plaintext to disk: {plain:7.1f} MB/s (median of {args.repeat})")
    print(f"ratio per round  : {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"ratio, median    : {ratio:.2f}  (target >= {args.min_ratio})")
    argon2_limit = mib + args.argon2_mib
    print(f"server peak RSS while the body streamed: {net_peak / MiB:.0f} MiB net of the "
          f"Argon2id running meanwhile (target < {mib:.0f}), {streaming_peak / MiB:.0f} MiB "
          f"with them (at most {streaming_hashes} at once: its receipt's, begun with the "
          f"request, or the receipt stock's); with the receipt's Argon2id after the last "
          f"byte: {peak / MiB:.0f} MiB (target < {argon2_limit:.0f}: + "
          f"{args.argon2_mib:.0f} MiB for its one Argon2id)")
    misses = []
    if not ratio >= args.min_ratio:
        misses.append(f"median ratio {ratio:.2f} < {args.min_ratio}")
    if not net_peak < mib * MiB:
        misses.append(f"RSS while streaming {net_peak / MiB:.0f} MiB >= {mib:.0f}")
    if not streaming_peak < (mib + args.argon2_mib * streaming_hashes) * MiB:
        misses.append(f"RSS while streaming with {streaming_hashes} Argon2id "
                      f"{streaming_peak / MiB:.0f} MiB >= "
                      f"{mib + args.argon2_mib * streaming_hashes:.0f}")
    if not peak < argon2_limit * MiB:
        misses.append(f"RSS with Argon2id {peak / MiB:.0f} MiB >= {argon2_limit:.0f}")
    if args.slow:
        misses += slow_phase(args, port, watcher)
    return misses


def _remove_blobs(data_dir: Path) -> None:
    # Keep the disk from filling across repeats; the database rows are irrelevant here.
    for sub in (data_dir / "blobs").iterdir():
        shutil.rmtree(sub, ignore_errors=True)


def slow_phase(args: argparse.Namespace, port: int, watcher: RssWatcher) -> list[str]:
    rate = args.slow_rate_kib * 1024
    size = args.slow_kib * 1024

    async def all_of_them() -> list[tuple[int, bytes] | BaseException]:
        async def staggered(i: int) -> tuple[int, bytes]:
            await asyncio.sleep(args.slow_ramp * i / args.slow)
            return await slow_upload(port, size, rate, watcher.body_sent)

        return await asyncio.gather(*(staggered(i) for i in range(args.slow)),
                                    return_exceptions=True)

    watcher.start()
    started = time.perf_counter()
    results = asyncio.run(all_of_them())
    seconds = time.perf_counter() - started
    rss = watcher.stop()
    ok = sum(1 for r in results if isinstance(r, tuple) and r[0] == 201)
    errors: dict[str, int] = {}
    for r in results:
        if not (isinstance(r, tuple) and r[0] == 201):
            key = repr(r)[:120]
            errors[key] = errors.get(key, 0) + 1
    hashes = min(args.slow, argon2_slots())
    mib = args.max_streaming_mib + args.per_upload_kib * args.slow / 1024
    limit = mib + args.argon2_mib * hashes
    streaming = watcher.net_streaming
    print(f"{args.slow} concurrent slow uploads of {args.slow_kib} KiB at "
          f"{args.slow_rate_kib} KiB/s each: {ok} ok, {args.slow - ok} failed (target 0), "
          f"{seconds:.1f} s; server peak RSS while every body streamed (until the first "
          f"one's last byte) {streaming / MiB:.0f} MiB net of Argon2id (target < {mib:.0f}: "
          f"{args.max_streaming_mib:.0f} + {args.per_upload_kib:.0f} KiB per upload), "
          f"{watcher.while_streaming / MiB:.0f} MiB with the {watcher.hashes_streaming} "
          f"running then, in all "
          f"{rss / MiB:.0f} MiB (target < {limit:.0f}: + {args.argon2_mib:.0f} MiB for each "
          f"of {hashes} concurrent Argon2id)")
    for key, count in errors.items():
        print(f"  {count} x {key}")
    misses = [f"{args.slow - ok} slow upload(s) failed"] if ok != args.slow else []
    if not streaming < mib * MiB:
        misses.append(f"RSS while the slow bodies streamed {streaming / MiB:.0f} MiB >= "
                      f"{mib:.0f}")
    if not rss < limit * MiB:
        misses.append(f"RSS under slow uploads {rss / MiB:.0f} MiB >= {limit:.0f}")
    return misses


def argon2_slots() -> int:
    """How many Argon2id the server runs at once (its settings, as the server reads them)."""
    from api.core.settings import Settings

    return Settings().resolved_max_concurrent_argon2


if __name__ == "__main__":
    main()
