"""Which job kinds this worker can run, how, and which ones run on a schedule.

Two ways to run a handler:

* ``transactional=True`` (the default): the handler gets ``ctx.session``, the transaction
  that also marks the job done. Its database effects and "done" commit together or not
  at all, so a crash or a lost claim re-runs a handler whose effects never happened.
  On PostgreSQL that transaction holds the job row's lock, so no other worker can take the
  job while it runs; on SQLite it holds the database write lock (one writer at a time).
* ``transactional=False``: for handlers that talk to the outside world (SMTP) and must not
  hold a database lock meanwhile. They open their own short transactions; the runner keeps
  the lease alive with heartbeats and the handler calls ``ctx.ensure_claim()`` right before
  its side effect. A crash between the side effect and "done" repeats the side effect once
  (at-least-once), which for a content-free digest email is acceptable.

A kind whose feature function does not exist in this build (``available`` returns False)
is neither claimed nor scheduled: we never pretend a job ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from api.core.settings import Settings

if TYPE_CHECKING:
    from workers.context import JobContext

Handler = Callable[["JobContext", Any], None]


def _always(_settings: Settings) -> bool:
    return True


@dataclass(frozen=True)
class JobSpec:
    kind: str
    run: Handler
    transactional: bool = True
    # Periodic jobs: how often, from settings; None = only when enqueued.
    every: Callable[[Settings], timedelta] | None = None
    available: Callable[[Settings], bool] = field(default=_always)


REGISTRY: dict[str, JobSpec] = {}


def register(spec: JobSpec) -> JobSpec:
    REGISTRY[spec.kind] = spec
    return spec


def load_builtin_jobs() -> dict[str, JobSpec]:
    """Import every module in workers/jobs so its ``register`` calls run."""
    import importlib
    import pkgutil

    import workers.jobs

    for info in pkgutil.iter_modules(workers.jobs.__path__):
        importlib.import_module(f"workers.jobs.{info.name}")
    return REGISTRY


def runnable(settings: Settings) -> dict[str, JobSpec]:
    load_builtin_jobs()
    return {kind: spec for kind, spec in REGISTRY.items() if spec.available(settings)}
