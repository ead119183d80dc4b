"""Periodic audit-chain checkpoint: stores the head so a rewritten tail is detectable."""

from __future__ import annotations

from datetime import timedelta

from api.jobs.kinds import Empty
from workers.context import JobContext
from workers.jobs import feature_function
from workers.registry import JobSpec, register


def run(ctx: JobContext, payload: Empty) -> None:
    # A checkpoint of an empty log names entry #0 (the genesis), which verify_chain accepts.
    checkpoint = feature_function("api.audit.service", "checkpoint")
    assert checkpoint is not None
    checkpoint(ctx.session)


register(JobSpec(
    kind="audit_checkpoint",
    run=run,
    every=lambda s: timedelta(hours=1),
    available=lambda s: feature_function("api.audit.service", "checkpoint") is not None,
))
