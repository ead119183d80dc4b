"""The child process that makes one clean copy: ``python -m api.cases.files.clean_child LIMITS``.

Started only by :mod:`api.cases.files.clean_copy`. ``LIMITS`` (argv, JSON) holds the resource
caps and the media limits, nothing secret. Before it reads a byte of input the child caps
itself: address space (RLIMIT_AS), CPU seconds (RLIMIT_CPU), no core dumps (a core would
put plaintext on disk) and no file writes at all (RLIMIT_FSIZE 0: the plaintext can only
leave through stdout).

Protocol. stdin: the media type as one line, then the file until EOF. stdout: a frame
``length (u32 BE) || JSON``, either ``{"ok": true, "size": N, "removed": [...]}``
followed by exactly N bytes of the clean copy, or ``{"ok": false, "reason": ...,
"details": {...}}`` (see :class:`api.cases.files.derivatives.Refused`). Nothing is written to
stderr: a traceback could quote the file.
"""

from __future__ import annotations

import json
import resource
import struct
import sys
from typing import Any, BinaryIO

MEDIA_TYPE_MAX = 200


def _cap_self(caps: dict[str, Any]) -> None:
    memory = int(caps["memory_bytes"])
    cpu = int(caps["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # SIGXCPU at the soft limit ends the process; the hard limit is a backstop (SIGKILL).
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _frame(out: BinaryIO, header: dict[str, Any]) -> None:
    body = json.dumps(header).encode()
    out.write(struct.pack(">I", len(body)) + body)


def main(argv: list[str], stdin: BinaryIO, stdout: BinaryIO) -> int:
    caps = json.loads(argv[1])
    _cap_self(caps)
    try:
        # Imported after the caps: the libraries' own memory counts against the cap too.
        from api.cases.files import derivatives

        limits = derivatives.Limits.from_json(caps["limits"])
        media_type = stdin.readline(MEDIA_TYPE_MAX).decode("ascii", "replace").strip()
        # One read into one bytes object (BytesIO shares it, no copy); one byte more than
        # allowed tells "too large" apart from "exactly the limit".
        data = stdin.read(limits.max_bytes + 1)
        try:
            clean, removed = derivatives.strip(data, media_type, limits)
        except derivatives.Refused as refused:
            _frame(stdout, {"ok": False, "reason": refused.reason, "details": refused.details})
            return 0
        del data
    except MemoryError:
        _frame(stdout, {"ok": False, "reason": "memory", "details": {}})
        return 0
    except Exception:  # any other failure on a hostile file is a refusal, not a crash
        _frame(stdout, {"ok": False, "reason": "unreadable", "details": {}})
        return 0
    _frame(stdout, {"ok": True, "size": len(clean), "removed": removed})
    stdout.write(clean)
    stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv, sys.stdin.buffer, sys.stdout.buffer))
