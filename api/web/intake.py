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
from api.intake import replays, service
from api.intake.schemas import SubmissionIn, SubmissionOut
from api.keys.service import NoRecoveryKey
from api.storage.dependencies import app_storage
from api.web import csrf
from api.web.receive import ReceivedForm

# A random value each rendering of the report form carries (see replay_key).
ONCE_FIELD = "once"


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


def replay_key(settings: Settings, received: ReceivedForm) -> replays.ReplayKey | None:
    """The form's own key: its token (valid for this browser only) and the random value
    the page was rendered with, so two tabs opened in the same second stay two reports.
    Not compared by content: the same page sent again is the same report. A post
    without the value (a page from before it existed, a script) has no key: its token
    alone is the same for every page the browser opened within one second, and two
    different reports must never be taken for one."""
    token, once = received.get(csrf.FIELD), received.get(ONCE_FIELD)
    if received.csrf_problem is not None or not token or not once:
        return None
    return replays.derive(settings, replays.FORM_SCOPE, f"{token}|{once}")


async def earlier_report(request: Request, settings: Settings, received: ReceivedForm
                         ) -> replays.EarlierReport | None:
    """The report this very form already filed, if it was sent before."""
    key = replay_key(settings, received)
    return None if key is None else await service.find_earlier(app_engine(request), key)


async def create(request: Request, settings: Settings, data: SubmissionIn,
                 received: ReceivedForm, ahead: service.ReceiptAhead | None = None
                 ) -> SubmissionOut:
    """Store the report (one short transaction); on failure its blobs are deleted.
    ``ahead``: its receipt, if one was started while the files streamed. A form sent
    again files nothing: the answer then says ``already_received``."""
    return await service.submit(
        app_engine(request), context(request, settings),
        service.ReceivedSubmission(data, received.batch, received.discarded),
        None if ahead is None else ahead.ticket, replay_key(settings, received),
    )
