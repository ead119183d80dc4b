"""Ship the audit chain head off the server (threat model 14; api/audit/shipping.py).

Runs every ``audit_ship_interval_minutes`` and ships to each configured target (the
write-once bucket, mail) that has not had the current head. It talks to the outside world,
so it holds no database lock meanwhile (``transactional=False``): read what to ship in one
short transaction, ship, record the shipment in another. A crash between the two ships the
same checkpoint again, which is harmless (one more identical version or mail).

A target that fails does not stop the others; the job then fails with
``ShippingFailed`` and is retried with backoff, and after ``job_max_attempts`` it is a dead
job (``GET /api/v1/admin/jobs?status=dead``). Only exception type names are logged.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from api.audit import shipping
from api.core.db import unit_of_work
from api.core.models import utcnow
from api.core.settings import Settings
from api.jobs.kinds import Empty
from api.notifications import mail
from workers.context import JobContext, LostClaim
from workers.registry import JobSpec, register

log = logging.getLogger("dokaz.worker")


def _configured(settings: Settings) -> bool:
    return bool(settings.audit_ship_targets)


def _ship_one(ctx: JobContext, target: str, cp: shipping.Checkpoint) -> None:
    now = utcnow()
    ctx.ensure_claim()
    if target == "s3":
        shipping.CheckpointBucket(ctx.settings).put(cp, now)
    else:
        mail.send(ctx.settings, shipping.compose_mail(ctx.settings, cp, now))
    with unit_of_work(ctx.engine) as session:
        shipping.mark_shipped(session, target, cp, now)
    log.info("audit checkpoint shipped", extra={"target": target, "seq": cp.seq})


def run(ctx: JobContext, payload: Empty) -> None:
    failed: list[str] = []
    for target in ctx.settings.audit_ship_targets:
        with unit_of_work(ctx.engine) as session:
            cp = shipping.pending(session, target, ctx.settings.audit_ship_max_hashes)
        if cp is None:
            continue
        try:
            _ship_one(ctx, target, cp)
        except LostClaim:
            raise
        except Exception as exc:  # try the other target; the job fails (and retries) below
            log.warning("audit checkpoint not shipped",
                        extra={"target": target, "error_type": type(exc).__name__})
            failed.append(target)
    if failed:
        raise shipping.ShippingFailed(",".join(failed))


register(JobSpec(
    kind="ship_audit_checkpoint",
    run=run,
    transactional=False,
    every=lambda s: timedelta(minutes=s.audit_ship_interval_minutes),
    available=_configured,
))
