"""Byte buffers reused across uploads instead of allocated per record, batch or PATCH.

Why pool by hand: a record (256 KiB) or a batch (1 MiB) is above glibc's mmap threshold
(kept low on purpose, api/core/memory.py), so each fresh one is a mapping of its own: its
pages are faulted in as it is filled (``bytearray(n)`` zeroes it, so all of them) and
unmapped when it is freed. On virtual machines that hand freed guest pages back to the
host (virtio free-page reporting, which these machines have), the next fault on such a
page costs the host a fault too: about 2.2 ms of system CPU per MiB against 0.2 ms for a
page the guest keeps, more than the encryption of that MiB. A streaming upload that takes
its buffers from here and gives them back touches the same resident pages again.

Idle buffers are bounded (``idle_bytes``): a burst of uploads allocates what it needs and
gives back only what fits, so at rest a process holds at most that much here.

Plaintext goes back zeroed: :meth:`BufferPool.give` wipes the part a caller says it used
before the buffer is kept or dropped, so a buffer handed out never holds another upload's
bytes. Ciphertext needs no wiping (``wipe=0``).
"""

from __future__ import annotations

import mmap
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

MiB = 1024 * 1024

# What zero() copies from: one MiB of zeros made once. ``bytes(n)`` per call would map
# and fault in n fresh bytes each time (above the mmap threshold) to zero n others.
_ZEROS = memoryview(bytes(MiB))


def zero(buf: bytearray | memoryview, size: int | None = None) -> None:
    """Zero the first ``size`` bytes of ``buf`` (all of it by default), in place."""
    end = len(buf) if size is None else min(size, len(buf))
    with memoryview(buf).cast("B") as view:
        # Through a view: assigning to a bytearray's slice copies the source into a
        # temporary bytearray first.
        for start in range(0, end, len(_ZEROS)):
            stop = min(end, start + len(_ZEROS))
            view[start:stop] = _ZEROS[: stop - start]


def zeros(size: int) -> memoryview:
    """``size`` zero bytes (at most one MiB), read-only and shared: padding to write."""
    if size > len(_ZEROS):
        raise ValueError("zeros() gives at most one MiB; write it in steps")
    return _ZEROS[:size]


B = TypeVar("B", bytearray, mmap.mmap)


def mapped(size: int) -> mmap.mmap:
    """A page-aligned buffer (an anonymous mapping), as direct I/O needs."""
    return mmap.mmap(-1, size)


class BufferPool(Generic[B]):
    """Idle buffers by size, shared by threads; at most ``idle_bytes`` of them kept.
    ``make(size)`` makes a new one: ``bytearray``, or :func:`mapped`."""

    def __init__(self, idle_bytes: int, make: Callable[[int], B]) -> None:
        self._budget = idle_bytes
        self._idle = 0
        self._free: dict[int, list[B]] = {}
        self._make: Callable[[int], B] = make
        self._lock = threading.Lock()

    @property
    def idle_bytes(self) -> int:
        return self._idle

    def take(self, size: int) -> B:
        """An idle buffer of ``size`` bytes, or a new (zeroed) one."""
        buf = self.take_idle(size)
        return buf if buf is not None else self._make(size)

    def take_idle(self, size: int) -> B | None:
        """An idle buffer of ``size`` bytes, or None when none is idle."""
        with self._lock:
            free = self._free.get(size)
            if free:
                self._idle -= size
                return free.pop()
        return None

    def give(self, buf: B, *, wipe: int) -> None:
        """Take ``buf`` back; its first ``wipe`` bytes are zeroed first (plaintext: every
        byte that may hold data; ciphertext: 0). The caller keeps no view of it."""
        if wipe:
            zero(memoryview(buf), wipe)
        with self._lock:
            if self._idle + len(buf) <= self._budget:
                self._free.setdefault(len(buf), []).append(buf)
                self._idle += len(buf)
                return
        if isinstance(buf, mmap.mmap):
            buf.close()  # unmapped now, not whenever it is collected


# Ciphertext of records being written one by one: sixteen 256 KiB records.
CIPHERTEXT = BufferPool(idle_bytes=4 * MiB + 64 * 1024, make=bytearray)
# Ciphertext of runs of records (crypto.stream.writer seals the whole records at hand
# together, 1 MiB at most), page-aligned for sinks that write them as they lie: four.
RUNS = BufferPool(idle_bytes=4 * (MiB + 8 * 1024), make=mapped)
# Plaintext: writers' record buffers and uploads' batches (api.uploads.service).
PLAINTEXT = BufferPool(idle_bytes=8 * MiB, make=bytearray)
