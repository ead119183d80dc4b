"""glibc malloc tuning (api/core/memory.py): freed upload-sized buffers leave the process.

Each probe is a fresh interpreter: it frees one 4 MiB buffer (with glibc's defaults that
raises the size from which buffers get their own mapping to 4 MiB), then allocates 200
record-sized buffers (256 KiB, 50 MiB in all) and frees all but the last. With the
defaults they came from the heap, and the last one pins it: the memory stays resident.
Tuned, each had its own mapping and went back to the system when freed.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from tests.system.live import ROOT

PROBE = """
import sys
from api.core.memory import tune_malloc
from api.core.settings import Settings

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024

settings = Settings(data_dir=sys.argv[2])
if sys.argv[1] == "tuned":
    assert tune_malloc(settings)
big = bytearray(4 * 1024 * 1024)
del big
before = rss()
buffers = [bytearray(256 * 1024) for _ in range(200)]
last = buffers[-1]
del buffers
print(rss() - before)
"""


def _kept_mib(mode: str, data_dir: str) -> float:
    proc = subprocess.run([sys.executable, "-c", PROBE, mode, data_dir], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stdout.split()[-1]) / 2**20


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_freed_record_buffers_are_returned_to_the_system(tmp_path: object) -> None:
    data_dir = str(tmp_path)
    assert _kept_mib("default", data_dir) > 30  # the probe does show the problem here
    assert _kept_mib("tuned", data_dir) < 8
