"""One module per job kind (or per small family of kinds); each calls ``register``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from workers.registry import JobSpec

if TYPE_CHECKING:
    from api.jobs.kinds import Empty
    from workers.context import JobContext


def feature_function(module: str, name: str) -> Callable[..., Any] | None:
    """The function another feature provides, or None if this build does not have it."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise
    fn = getattr(mod, name, None)
    return fn if callable(fn) else None


def feature_job(kind: str, module: str, name: str, every: timedelta) -> JobSpec:
    """A periodic job that calls ``module.name(session)`` in the job's transaction.

    It is scheduled only where this build has that function (``available``), so a missing
    feature is never faked as a job that ran.
    """

    def run(ctx: JobContext, payload: Empty) -> None:
        fn = feature_function(module, name)
        assert fn is not None
        fn(ctx.session)

    return JobSpec(kind=kind, run=run, every=lambda s: every,
                   available=lambda s: feature_function(module, name) is not None)
