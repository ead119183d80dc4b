"""Glue to the follow-up feature for the follow-up pages.

Every check (receipt verification and throttling, session tokens, closed cases) is the
follow-up service's; this module calls it in short transactions and turns its answers
into what a page shows. The follow-up session token lives only in a hidden form field
(never a URL or cookie) and expires as the service decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import Request
from pydantic import ValidationError
from sqlmodel import Session

from api.core.db import in_transaction
from api.core.dependencies import app_engine
from api.core.errors import BadRequest, DokazError, RateLimited, Unauthorized
from api.core.settings import Settings
from api.followup import service
from api.followup.schemas import MessageIn, MessageOut, StatusOut
from api.ingress.admit import Admission
from api.ingress.schemas import FileOut
from api.intake.schemas import FollowupIn
from api.intake.service import ReceivedSubmission
from api.web.forms import FieldError
from api.web.i18n import N_
from api.web.intake import context
from api.web.receive import ReceivedForm
from crypto.redaction import redacting

STATUS_LABELS = {
    "received": N_("Received; not read yet"),
    "in_progress": N_("Being worked on"),
    "waiting_for_you": N_("Waiting for your answer to our question"),
    "closed": N_("Closed"),
}
WRONG_RECEIPT = N_("That receipt is not right. Check it and try again; after a few wrong "
                   "tries you will have to wait an hour.")
MALFORMED_RECEIPT = N_("A receipt has 32 letters and digits in 8 groups of 4. Check that "
                       "you copied all of it.")
TOO_MANY = N_("Too many wrong receipts were tried. For your safety, please wait "
              "%(minutes)s minutes before trying again.")
CASE_CLOSED = N_("This case is closed, so it cannot take new messages or files. If "
                 "something new has happened, please send a new report.")
MESSAGE_TOO_LONG = N_("Please write at most %(max)s characters here.")


class SessionExpired(Exception):
    """The follow-up session token is missing, unknown or expired."""


class ReceiptRejected(Exception):
    def __init__(self, status_code: int, error: FieldError) -> None:
        super().__init__("receipt rejected")
        self.status_code = status_code
        self.error = error


@dataclass(frozen=True)
class Message:
    from_submitter: bool
    body: str
    created_at: datetime


@redacting(lambda v: f"reference={v.status.reference}")
@dataclass
class FollowupView:
    session_token: str
    status: StatusOut
    messages: list[Message]
    files: list[FileOut]


def _messages(items: list[MessageOut]) -> list[Message]:
    return [Message(m.direction == "from_you", m.text, m.created_at) for m in items]


async def open_session(request: Request, admitted: Admission[None], receipt: str
                       ) -> FollowupView:
    """Check the receipt (the service throttles), then load the page's contents."""
    try:
        opened = await service.start_session(
            app_engine(request), admitted.settings, admitted.guards, admitted.client, receipt,
        )
    except RateLimited as exc:
        minutes = max(1, (exc.retry_after + 59) // 60)
        raise ReceiptRejected(429, FieldError("receipt", TOO_MANY, {"minutes": minutes})
                              ) from None
    except Unauthorized:
        raise ReceiptRejected(401, FieldError("receipt", WRONG_RECEIPT)) from None
    except BadRequest:
        raise ReceiptRejected(400, FieldError("receipt", MALFORMED_RECEIPT)) from None
    return await load(request, opened.token)


async def load(request: Request, token: str, files: list[FileOut] | None = None
               ) -> FollowupView:
    def work(session: Session) -> FollowupView:
        access = service.authenticate(session, token)
        return FollowupView(token, service.status(session, access),
                            _messages(service.list_messages(session, access)), files or [])

    try:
        return await in_transaction(app_engine(request), work)
    except Unauthorized:
        raise SessionExpired() from None


def check_message(text: str) -> FieldError | None:
    """The follow-up API's own rules for a message (empty, too long)."""
    try:
        MessageIn.model_validate({"text": text})
    except ValidationError as exc:
        kind = exc.errors()[0].get("type", "")
        if kind == "string_too_long":
            limit = int(MessageIn.model_fields["text"].metadata[0].max_length or 0)
            return FieldError("message", MESSAGE_TOO_LONG, {"max": limit})
        return FieldError("message", N_("Please write a message before sending."))
    return None


async def send_message(request: Request, token: str, text: str) -> FollowupView:
    def work(session: Session) -> None:
        access = service.authenticate(session, token)
        service.send_message(session, access, text)

    try:
        await in_transaction(app_engine(request), work)
    except Unauthorized:
        raise SessionExpired() from None
    return await load(request, token)


async def access_for(request: Request, token: str) -> service.FollowupAccess | None:
    """The session's access (its case key in memory), or None if the session has ended."""
    def work(session: Session) -> service.FollowupAccess:
        return service.authenticate(session, token)

    try:
        return await in_transaction(app_engine(request), work)
    except Unauthorized:
        return None


async def add_files(request: Request, settings: Settings, received: ReceivedForm,
                    access: service.FollowupAccess | None) -> FollowupView:
    """Attach the received files (and finished tus uploads) to the case as an addition.

    ``access`` was taken when the first file arrived, so an upload that outlasts the
    session (hours over Tor) is still attached; the page itself then asks for the
    receipt again.
    """
    token = received.get("session")
    access = access or await access_for(request, token)
    if access is None:
        await received.discard()
        raise SessionExpired()
    data = FollowupIn(uploads=received.all("uploads"))
    out = await service.add_information(
        app_engine(request), context(request, settings), access,
        ReceivedSubmission(data, received.batch),
    )
    return await load(request, token, out.files)


def is_case_closed(exc: DokazError) -> bool:
    return isinstance(exc, service.CaseClosed)
