"""glibc malloc tuning for API processes: freed buffers go back to the system.

An upload holds a few 256 KiB buffers (a record of plaintext, its ciphertext), and dozens
stream at once, each in a worker thread of its own now and then. With glibc's defaults
two things keep that memory resident after it is freed: every thread that allocates gets
an arena of its own (up to eight per core), each keeping what was freed in it; and the
size above which a buffer is its own ``mmap`` (returned on ``free``) grows with the
largest buffer ever freed, so after the first big one every record buffer comes from an
arena and stays there. Measured with bench/upload.py (200 slow uploads, then their
receipts' Argon2id): 485 MiB peak with the defaults, 418 MiB with these (the target is
the streaming peak plus 64 MiB per concurrent Argon2id).

The threshold is 256 KiB: a record buffer (256 KiB and its header) still gets its own
mapping, but a socket read (uvloop reads at most 256,000 bytes, and each read becomes a
bytes object) comes from the heap. At 128 KiB every read of an upload was a fresh mapping,
faulted in page by page and unmapped after: a tus upload's server took 0.75 s of system
CPU per 512 MiB instead of 0.5 (about 265 against 320 MB/s, bench/tus_peers.py). A freed
read is reused by the next one; bench/upload.py measured the same peaks at 128 and 512
KiB (128 MiB streaming net of Argon2id, 261 MiB under 200 slow uploads).

The trim threshold is 4 MiB. The reads come from the heap, and with glibc's 128 KiB a
freed read at the top of the heap gave its pages back to the system at once, for the next
read to fault them in again: about 50,000 page faults per 512 MiB tus upload once the
upload buffers were pooled (crypto.buffers). On virtual machines that hand freed pages
on to the host (free-page reporting), each such page then costs the host a fault as
well. Keeping up to 4 MiB free at the top of each of the few arenas costs little resident
memory and brought the faults to about 13,000 (1 MiB: 38,000; bench/tus_peers.py prints
them).

``mallopt`` is called through ctypes when the process starts to serve; on a C library
without it (musl, macOS) nothing changes and the service works the same.
"""

from __future__ import annotations

import ctypes
import logging

from api.core.settings import Settings

log = logging.getLogger("dokaz.memory")

# From glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


def tune_malloc(settings: Settings) -> bool:
    """Apply ``malloc_arena_max``, ``malloc_mmap_threshold_bytes`` and
    ``malloc_trim_threshold_bytes`` (0 leaves glibc's default); True when the C library
    took them all."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = True
    for option, value in ((M_ARENA_MAX, settings.malloc_arena_max),
                          (M_MMAP_THRESHOLD, settings.malloc_mmap_threshold_bytes),
                          (M_TRIM_THRESHOLD, settings.malloc_trim_threshold_bytes)):
        if value and mallopt(option, value) != 1:
            log.warning("mallopt refused a setting", extra={"option": option})
            ok = False
    return ok
