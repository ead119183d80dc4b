"""Glue to the intake feature: the web form's report goes through its service unchanged.

The form's fields become a ``SubmissionIn`` (:mod:`api.web.submission`), its files were
already streamed into a ``FileBatch`` (:mod:`api.web.receive`) after the report door
admitted the post (:mod:`api.ingress.admit`: the same rate limits as the API); from here
the intake service stores them exactly as it stores an API submission: receipt, key wraps
and honeypot behaviour included.
"""

from __future__ import annotations

from fastapi import Request

from api.core.db import in_transaction
from api.core.dependencies import app_engine
from api.core.settings import Settings
from api.intake import service
from api.intake.schemas import SubmissionIn, SubmissionOut
from api.keys.service import NoRecoveryKey
from api.storage.dependencies import app_storage
from api.web.receive import ReceivedForm


def context(request: Request, settings: Settings) -> service.IntakeContext:
    return service.IntakeContext(settings=settings, storage=app_storage(request), channel="web")


async def check_configured(request: Request) -> None:
    """No report is stored, or even offered, while no recovery key exists (503)."""
    await in_transaction(app_engine(request), service.ensure_intake_configured)


async def configured(request: Request) -> bool:
    try:
        await check_configured(request)
    except NoRecoveryKey:
        return False
    return True


async def create(request: Request, settings: Settings, data: SubmissionIn,
                 received: ReceivedForm, ahead: service.ReceiptAhead | None = None
                 ) -> SubmissionOut:
    """Store the report (one short transaction); on failure its blobs are deleted.
    ``ahead``: its receipt, if one was started while the files streamed."""
    return await service.submit(
        app_engine(request), context(request, settings),
        service.ReceivedSubmission(data, received.batch, received.discarded),
        None if ahead is None else ahead.ticket,
    )
