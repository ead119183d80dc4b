"""A directory on a filesystem nothing else writes to, for tests that budget free space.

The disk-floor tests set ``DOKAZ_MIN_FREE_DISK_BYTES`` a few MiB below the free space they
measure, so anything else writing to the same filesystem meanwhile breaks them. A tmpfs
(/dev/shm) moves only with what tests write; but pytest runs two workers, and the SQLite
and PostgreSQL variants of one test often run at the same moment. So each holds an
exclusive lock on the tmpfs for as long as it uses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

TMPFS = Path("/dev/shm")


@contextlib.contextmanager
def quiet_directory(prefix: str) -> Iterator[Path]:
    base = TMPFS if TMPFS.is_dir() else Path(tempfile.gettempdir())
    with open(base / "dokaz-tests-quiet-disk.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
