"""Progress of long operator commands (backup, restore, fsck, grants, statistics, migrations).

Services report progress through the small :class:`Progress` protocol and know nothing of
terminals; a command passes :func:`for_terminal`'s bar, or nothing (:data:`SILENT`). The
bar is drawn on stderr only when stderr is a terminal and ``--quiet`` was not given, so a
cron job's mail or a pipe gets the command's result lines and nothing else.

Labels and counts only: a label names a step ("tables", "blobs", a table's id), never a
value from the data, since a terminal's scrollback is one more copy on the server.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TextIO


class Progress(Protocol):
    def step(self, label: str, total: int | None = None) -> None:
        """Begin a new step of ``total`` units (None: unknown); the previous one ends."""

    def advance(self, units: int = 1) -> None:
        """``units`` more of the current step are done."""


class _Silent:
    def step(self, label: str, total: int | None = None) -> None:
        pass

    def advance(self, units: int = 1) -> None:
        pass


SILENT: Progress = _Silent()


class _Bar:
    """One rich progress bar per step, drawn on the given terminal stream."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress
        self._task: Any = None

    def step(self, label: str, total: int | None = None) -> None:
        self._finish()
        self._task = self._progress.add_task(label, total=total)

    def advance(self, units: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, units)

    def _finish(self) -> None:
        if self._task is None:
            return
        task = self._progress.tasks[-1]
        if task.total is None:  # an open-ended step shows what it counted when it ends
            self._progress.update(self._task, total=task.completed)
        else:
            self._progress.update(self._task, completed=task.total)


def wanted(quiet: bool, stream: TextIO | None = None) -> bool:
    """Whether to draw progress: on a terminal, unless the operator asked for quiet."""
    stream = stream or sys.stderr
    return not quiet and stream.isatty()


@contextmanager
def for_terminal(quiet: bool = False, stream: TextIO | None = None) -> Iterator[Progress]:
    """A progress bar on stderr while the block runs, or :data:`SILENT` off a terminal."""
    stream = stream or sys.stderr
    if not wanted(quiet, stream):
        yield SILENT
        return
    # Imported here: the API processes never draw progress and need not load rich.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichProgress

    console = Console(file=stream, force_terminal=True)
    with RichProgress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        refresh_per_second=8,
    ) as progress:
        bar = _Bar(progress)
        yield bar
        # Only on success: a step that failed halfway stays drawn where it stopped.
        bar._finish()
