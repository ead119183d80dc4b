"""Where the recovery private key may appear: a terminal, or a file the operator names.

Threat-model property 10. Under Docker or systemd a service's standard output is a log
on the very server the threat model assumes seized, so the private text is written only
when standard output is a terminal, or into ``--output FILE``: created new (O_EXCL, so
an existing file, or a symlink planted where it should go, is never overwritten or
followed) with mode 0600 from the first byte. It never goes to a logger or to stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType
from typing import TextIO

BANNER = """
==============================================================================
 ORGANISATION RECOVERY KEY - shown once, never stored on this server
==============================================================================
 Write it down or print it and keep it OFFLINE (a safe, not a laptop). It can
 open every case, so treat it like the cases themselves. Without it, a lost
 staff password means the cases only that person could open are lost.

   {key}

 Fingerprint (also shown by `dokaz keys show`): {fp}
==============================================================================
"""

FILE_TEXT = """\
# Dokaz organisation recovery key (PRIVATE). Keep this file offline; it opens every case.
# Fingerprint of its public half: {fp}
{key}
"""


class OutputRefused(Exception):
    """The private key has nowhere safe to go; nothing was created. Carries the reason."""


def interactive(stdin: TextIO | None = None, stdout: TextIO | None = None) -> bool:
    """A person at a terminal: both ends of the conversation are a TTY."""
    return _isatty(stdin or sys.stdin) and _isatty(stdout or sys.stdout)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


class PrivateKeyOutput:
    """The one place a recovery private key is written. Use as a context manager.

    Opening checks the destination before any key exists, so a refusal leaves nothing
    behind. A file that was created but not :meth:`keep`-ed (the key was not stored
    after all) is removed on exit.
    """

    def __init__(self, path: Path | None, stdout: TextIO | None = None) -> None:
        self._stdout = stdout or sys.stdout
        self._path = path
        self._fd: int | None = None
        self._kept = False
        if path is None:
            if not _isatty(self._stdout):
                raise OutputRefused(
                    "refusing to print the recovery private key: standard output is not a "
                    "terminal (it could be a log). Run this on a terminal, or give "
                    "--output FILE to write it to a new file readable only by you."
                )
            return
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            self._fd = os.open(path, flags, 0o600)
        except FileExistsError:
            raise OutputRefused(
                f"refusing to write the recovery key: {path} already exists (it is never "
                "overwritten; choose a new file name)."
            ) from None
        except OSError as exc:
            raise OutputRefused(
                f"cannot create {path}: {os.strerror(exc.errno or 0)}."
            ) from None
        os.fchmod(self._fd, 0o600)  # the umask can only narrow it, but be exact

    @property
    def where(self) -> str:
        return "this terminal" if self._path is None else str(self._path)

    def write(self, private_text: str, fingerprint: str) -> None:
        if self._fd is None:
            self._stdout.write(BANNER.format(key=private_text, fp=fingerprint))
            self._stdout.flush()
            return
        os.write(self._fd, FILE_TEXT.format(key=private_text, fp=fingerprint).encode())
        os.fsync(self._fd)

    def keep(self) -> None:
        self._kept = True

    def __enter__(self) -> PrivateKeyOutput:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            if not self._kept and self._path is not None:
                self._path.unlink(missing_ok=True)

