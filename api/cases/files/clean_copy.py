"""Clean copies are made in a capped child process, never in the API process.

A clean copy decodes and re-encodes a file a stranger sent. A 481 KB PNG can declare 169
megapixels and take gigabytes to decode, so the work runs in ``python -m
api.cases.files.clean_child`` under an address-space cap (``clean_copy_memory_bytes``), a
CPU-time cap and a wall-clock timeout (``clean_copy_timeout_seconds``); at most
``clean_copy_max_concurrent`` children run per API process. A child that runs out of
memory or time, or dies, costs only itself: the caseworker gets a 422 and nothing is
stored.

Plaintext moves only through pipes: the decrypted original is streamed record by record
into the child's stdin (the API process never holds the whole original), the clean copy
is streamed from its stdout straight into the encrypting writer. No temporary file, and
the child can write none (RLIMIT_FSIZE 0, no core dumps). Its environment carries no
``DOKAZ_`` setting, so a child taken over by a hostile file holds no server secret.

Why not a background job: a job may carry neither keys nor plaintext (jobs take IDs, their
payloads are stored in the database), and only the caseworker's session can open the case
key. So the request itself waits for its child. The route is synchronous: the wait blocks
one thread of the pool for at most the timeout, and the concurrency bound keeps that to a
few threads; a request that finds no free slot within ``clean_copy_queue_seconds`` gets a
503 with Retry-After rather than queueing without end.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import api
from api.cases.files import derivatives
from api.core.errors import (
    DokazError,
    InvalidInput,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from api.core.settings import Settings

log = logging.getLogger("dokaz.clean_copy")

READ_CHUNK = 1024 * 1024
HEADER_MAX = 64 * 1024
_REMOVED_MAX = 256
# The CPU cap ends the child with SIGXCPU (soft) or SIGKILL (hard limit, or our timer).
_OUT_OF_TIME = (-signal.SIGXCPU, -signal.SIGKILL)

_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def limits(settings: Settings) -> derivatives.Limits:
    return derivatives.Limits(
        max_bytes=settings.derivative_max_bytes, max_pixels=settings.clean_copy_max_pixels,
        max_frames=settings.clean_copy_max_frames, max_pages=settings.clean_copy_max_pages)


def make(source: Iterable[bytes], media_type: str, settings: Settings,
         out: Callable[[bytes], None]) -> list[str]:
    """Feed ``source`` (the plaintext) to a capped child; pass the clean copy to ``out``.

    Returns the removed parts. Raises a :class:`DokazError` (422/413/415/503) when no copy
    was made; whatever ``out`` received must then be discarded by the caller. Exceptions
    from ``source`` (a failed decryption) propagate after the child is killed.
    """
    slot = _slot(settings.clean_copy_max_concurrent)
    if not slot.acquire(timeout=settings.clean_copy_queue_seconds):
        raise ServiceUnavailable("Other clean copies are being made right now; try again in "
                                 "a minute.", retry_after=60)
    try:
        return _run(source, media_type, settings, out)
    finally:
        slot.release()


def _slot(size: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        return _slots.setdefault(size, threading.BoundedSemaphore(size))


def _child_command(settings: Settings) -> list[str]:
    caps = {"memory_bytes": settings.clean_copy_memory_bytes,
            "cpu_seconds": max(1, math.ceil(settings.clean_copy_timeout_seconds)),
            "limits": limits(settings).as_json()}
    # -B: no .pyc writes; -s: no user site-packages.
    return [sys.executable, "-B", "-s", "-m", "api.cases.files.clean_child", json.dumps(caps)]


def _child_env() -> dict[str, str]:
    # Only what Python needs to find this package: no DOKAZ_ setting, no secret.
    root = str(Path(api.__file__).resolve().parent.parent)
    return {"PATH": os.defpath, "PYTHONPATH": root, "LC_ALL": "C.UTF-8"}


def _run(source: Iterable[bytes], media_type: str, settings: Settings,
         out: Callable[[bytes], None]) -> list[str]:
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
        _child_command(settings), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env=_child_env(), cwd=_child_env()["PYTHONPATH"],
        close_fds=True)
    assert proc.stdin is not None and proc.stdout is not None
    timed_out = threading.Event()

    def _expire() -> None:
        timed_out.set()
        proc.kill()

    # Killing the child unblocks any write to or read from its pipes.
    timer = threading.Timer(settings.clean_copy_timeout_seconds, _expire)
    timer.daemon = True
    timer.start()
    try:
        fed = _feed(proc.stdin, media_type, source)
        header = _read_header(proc.stdout)
        if header is not None and header.get("ok") is True and fed:
            removed = _removed(header)
            size = header.get("size")
            if not isinstance(size, int) or isinstance(size, bool):
                raise _refusal(None, settings)  # not an answer our child gives
            _copy(proc.stdout, size, settings, out)
            if proc.wait() == 0 and not timed_out.is_set():
                return removed
            header = None
        proc.wait()
        out_of_time = timed_out.is_set() or proc.returncode in _OUT_OF_TIME
        # For the operator tuning the caps: a reason code and an exit status, no content.
        log.info("clean copy refused", extra={
            "reason": "time" if out_of_time else str(header.get("reason") if header
                                                     else "no_answer"),
            "exit_status": proc.returncode})
        if out_of_time:
            raise InvalidInput(
                "Making a clean copy of this file took longer than allowed "
                f"({settings.clean_copy_timeout_seconds:g} seconds), so none was made. The "
                "original is unchanged.", details={"reason": "time"})
        raise _refusal(header, settings)
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        if not proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()


def _feed(stdin: IO[bytes], media_type: str, source: Iterable[bytes]) -> bool:
    """Write everything; False if the child stopped reading (it refused early or died)."""
    try:
        stdin.write(media_type.encode("ascii", "replace")[:100] + b"\n")
        for chunk in source:
            stdin.write(chunk)
        stdin.close()
    except BrokenPipeError:
        return False
    return True


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def _read_header(stdout: IO[bytes]) -> dict[str, Any] | None:
    raw = _read_exact(stdout, 4)
    if len(raw) != 4:
        return None
    (length,) = struct.unpack(">I", raw)
    if length > HEADER_MAX:
        return None
    body = _read_exact(stdout, length)
    try:
        header = json.loads(body)
    except ValueError:
        return None
    return header if isinstance(header, dict) else None


def _removed(header: dict[str, Any]) -> list[str]:
    # The child handled a hostile file: accept only a short list of short strings.
    raw = header.get("removed")
    if not isinstance(raw, list):
        return []
    return [str(x)[:80] for x in raw[:_REMOVED_MAX] if isinstance(x, str)]


def _copy(stdout: IO[bytes], size: int, settings: Settings,
          out: Callable[[bytes], None]) -> None:
    if not 0 <= size <= settings.clean_copy_max_output_bytes:
        raise PayloadTooLarge("The clean copy of this file would be larger than allowed "
                              f"({settings.clean_copy_max_output_bytes} bytes), so none was "
                              "made.")
    left = size
    while left:
        chunk = stdout.read(min(READ_CHUNK, left))
        if not chunk:
            raise _refusal(None, settings)  # the child died mid-copy
        out(chunk)
        left -= len(chunk)


def _refusal(header: dict[str, Any] | None, settings: Settings) -> DokazError:
    """The caseworker's message for a child's refusal; texts are built here, not in the
    child, and only its numbers are used."""
    reason = str(header.get("reason")) if header else "unreadable"
    raw = header.get("details") if header else None
    n = {k: v for k, v in (raw.items() if isinstance(raw, dict) else [])
         if isinstance(v, int) and not isinstance(v, bool)}
    details: dict[str, Any] = {"reason": reason if reason in derivatives.REASONS
                               else "unreadable", **n}
    done = " The original is unchanged."
    if reason == "pixels":
        return InvalidInput(
            f"This image is too large to make a clean copy: {_mp(n.get('pixels', 0))} "
            f"megapixels, limit {_mp(n.get('limit', settings.clean_copy_max_pixels))}." + done,
            details=details)
    if reason == "frames":
        return InvalidInput(f"This image has too many frames to make a clean copy: "
                            f"{n.get('frames', 0)}, limit {n.get('limit', 0)}." + done,
                            details=details)
    if reason == "pages":
        return InvalidInput(f"This PDF has too many pages to make a clean copy: "
                            f"{n.get('pages', 0)}, limit {n.get('limit', 0)}." + done,
                            details=details)
    if reason == "memory":
        return InvalidInput(
            "This file needs more memory to process than a clean copy may use "
            f"({settings.clean_copy_memory_bytes // (1024 * 1024)} MiB), so none was made."
            + done, details=details)
    if reason == "pdf_encrypted":
        return InvalidInput("This PDF is encrypted; it cannot be cleaned without its "
                            "password, so no copy was made." + done, details=details)
    if reason in ("too_large", "expands"):
        return PayloadTooLarge("This file is (or expands to) more than the size allowed for "
                               f"cleaning ({n.get('limit', 0)} bytes), so no copy was made."
                               + done, details=details)
    if reason == "unsupported":
        return UnsupportedMediaType(derivatives.UNSUPPORTED, details=details)
    return InvalidInput("The file could not be processed (damaged, or not what its type "
                        "says), so no clean copy was made." + done, details=details)


def _mp(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f}".rstrip("0").rstrip(".")
