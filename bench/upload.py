"""Benchmark: the encrypted intake path vs a plaintext-to-disk baseline, over loopback.

Starts uvicorn (httptools + uvloop, one worker) in a subprocess on a free port, with a
fresh SQLite database and data directory (real disk), then in the same run:

1. sends one ``--size-mib`` multipart upload (a ``submission`` JSON part and one file
   part) to ``POST /api/v1/submissions``: multipart parse + SHA-256 + AES-256-GCM records
   + write + fsync + the receipt's Argon2id + the database commit;
2. sends the *same bytes* to ``POST /bench/plain``, an endpoint that exists only in this
   benchmark's server: it parses the same multipart body with the same parser and writes
   each part's plaintext straight to a file (1 MiB writes in a worker thread) + fsync;
3. repeats both (alternating order) ``--repeat`` times and reports the best of each,
   MB/s, the ratio encrypted/plain (target >= 0.8) and the server's peak RSS during the
   big uploads (target < 150 MiB);
4. holds ``--slow`` concurrent uploads at ``--slow-rate-kib`` KiB/s each (default 200
   at 64 KiB/s), reports errors (target: none) and the server's peak RSS meanwhile.

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


def build_bench_app() -> Any:
    """The real app plus /bench/plain (never part of the product)."""
    import anyio.to_thread

    from api.app import create_app
    from api.core.settings import get_settings
    from api.ingress.multipart import MultipartLimits, PartInfo, parse_multipart

    settings = get_settings()
    app = create_app(settings)
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


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(build_bench_app(), host="127.0.0.1", port=port, loop="uvloop",
                http="httptools", log_level="warning", access_log=False,
                backlog=4096, timeout_keep_alive=30)


# ---- client side -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


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


async def slow_upload(port: int, size: int, rate: int) -> tuple[int, bytes]:
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
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1]) if data else 0
    return status, data.split(b"\r\n\r\n", 1)[-1][:200]


class RssWatcher:
    """Peak RSS of a process: VmHWM (reset per phase) and sampled VmRSS."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.sampled = 0
        self.while_streaming = 0
        self.streaming = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _field(self, name: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
        return 0

    def idle(self) -> int:
        return self._field("VmRSS")

    def start(self) -> None:
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # reset VmHWM
        self.sampled = self.while_streaming = self._field("VmRSS")
        self.streaming = True
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(0.02):
                try:
                    rss = self._field("VmRSS")
                except OSError:
                    return
                self.sampled = max(self.sampled, rss)
                if self.streaming:
                    self.while_streaming = max(self.while_streaming, rss)

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
    parser.add_argument("--repeat", type=int, default=1)
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
    }
    data_dir.mkdir(mode=0o700)
    prepare(data_dir, env)
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)],
                            env={**os.environ, **env}, cwd=ROOT)
    try:
        wait_ready(port, proc)
        run(args, port, proc, size, data_dir)
    finally:
        if proc.poll() is not None:
            print(f"the server exited with code {proc.returncode}", file=sys.stderr)
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, port: int, proc: subprocess.Popen[bytes], size: int,
        data_dir: Path) -> None:
    block = memoryview(os.urandom(BLOCK))
    watcher = RssWatcher(proc.pid)
    print(f"upload of {args.size_mib} MiB over loopback, uvicorn httptools+uvloop, 1 worker")
    best: dict[str, float] = {}
    peak = streaming_peak = 0
    idle = watcher.idle()
    print(f"server RSS at rest (the whole app, every feature loaded): {idle / MiB:.0f} MiB")
    for i in range(args.repeat):
        order: list[tuple[str, str]] = [("encrypted", "/api/v1/submissions"),
                                        ("plain", "/bench/plain")]
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
                _remove_blobs(data_dir)
            print(f"  {name:9s} run {i + 1}: {mb_s(size, seconds):7.1f} MB/s "
                  f"({seconds:.2f} s), server peak RSS {rss / MiB:.0f} MiB "
                  f"({watcher.while_streaming / MiB:.0f} MiB while the body streamed)")
            best[name] = min(best.get(name, float("inf")), seconds)
    enc, plain = mb_s(size, best["encrypted"]), mb_s(size, best["plain"])
    print(f"encrypted intake : {enc:7.1f} MB/s")
    print(f"plaintext to disk: {plain:7.1f} MB/s")
    print(f"ratio            : {enc / plain:.2f}  (target >= 0.8)")
    print(f"server peak RSS during encrypted uploads: {peak / MiB:.0f} MiB (target < 150); "
          f"while the body streamed: {streaming_peak / MiB:.0f} MiB; the rest is the "
          "receipt's Argon2id (64 MiB) after the last byte")
    if args.slow:
        slow_phase(args, port, watcher)


def _remove_blobs(data_dir: Path) -> None:
    # Keep the disk from filling across repeats; the database rows are irrelevant here.
    for sub in (data_dir / "blobs").iterdir():
        shutil.rmtree(sub, ignore_errors=True)


def slow_phase(args: argparse.Namespace, port: int, watcher: RssWatcher) -> None:
    rate = args.slow_rate_kib * 1024
    size = args.slow_kib * 1024

    async def all_of_them() -> list[tuple[int, bytes] | BaseException]:
        async def staggered(i: int) -> tuple[int, bytes]:
            await asyncio.sleep(args.slow_ramp * i / args.slow)
            return await slow_upload(port, size, rate)

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
    print(f"{args.slow} concurrent slow uploads of {args.slow_kib} KiB at "
          f"{args.slow_rate_kib} KiB/s each: {ok} ok, {args.slow - ok} failed, "
          f"{seconds:.1f} s, server peak RSS {rss / MiB:.0f} MiB")
    for key, count in errors.items():
        print(f"  {count} x {key}")


if __name__ == "__main__":
    main()
