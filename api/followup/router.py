"""``/api/v1/followup``: status, messages and additions for the submitter, by receipt."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session

from api.auth.dependencies import bearer_token
from api.core.db import in_transaction
from api.core.dependencies import Config, DbEngine, DbSession, app_engine
from api.core.errors import (
    BadRequest,
    Conflict,
    InvalidInput,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
    error_responses,
)
from api.followup import service
from api.followup.schemas import (
    AdditionOut,
    MessageIn,
    MessageOut,
    SessionIn,
    SessionOut,
    StatusOut,
)
from api.ingress.admit import Admission, Door, admission
from api.ingress.guards import BodyTimeout
from api.intake import service as intake_service
from api.intake.schemas import FollowupIn
from api.storage.dependencies import Storage

router = APIRouter(prefix="/api/v1/followup", tags=["followup"])


def _access(request: Request, session: Session) -> service.FollowupAccess:
    return service.authenticate(session, bearer_token(request))


async def _open_access(request: Request) -> service.FollowupAccess:
    """The addition door's authorize hook: a live session on an open case, checked in its
    own short transaction (not the request's: the body may stream for minutes)."""
    token = bearer_token(request)
    return await in_transaction(app_engine(request),
                                lambda s: _check_open(s, token))


SessionAdmitted = Annotated[Admission[None], Depends(admission(Door.FOLLOWUP_SESSION))]
MessageAdmitted = Annotated[Admission[None], Depends(admission(Door.FOLLOWUP_MESSAGE))]
AdditionAdmitted = Annotated[Admission[service.FollowupAccess],
                             Depends(admission(Door.FOLLOWUP_ADDITION, _open_access))]


@router.post("/session", status_code=201, response_model=SessionOut,
             summary="Exchange a receipt for a short-lived follow-up token",
             responses=error_responses(BadRequest, Unauthorized, RateLimited, InvalidInput))
async def open_session(admitted: SessionAdmitted, body: SessionIn, engine: DbEngine
                       ) -> SessionOut:
    return await service.start_session(engine, admitted.settings, admitted.guards,
                                       admitted.client, body.receipt)


@router.get("/status", response_model=StatusOut, summary="Coarse status of your case",
            responses=error_responses(Unauthorized))
def get_status(request: Request, session: DbSession) -> StatusOut:
    return service.status(session, _access(request, session))


@router.get("/messages", response_model=list[MessageOut], summary="Messages on your case",
            responses=error_responses(Unauthorized))
def get_messages(request: Request, session: DbSession) -> list[MessageOut]:
    return service.list_messages(session, _access(request, session))


@router.post("/messages", status_code=201, response_model=MessageOut,
             summary="Send a message to the people handling your case",
             responses=error_responses(Unauthorized, Conflict, InvalidInput))
def post_message(_admitted: MessageAdmitted, request: Request, body: MessageIn,
                 session: DbSession) -> MessageOut:
    return service.send_message(session, _access(request, session), body.text)


@router.post("/additions", status_code=201, response_model=AdditionOut,
             summary="Add information and files to your case (JSON or multipart)",
             responses=error_responses(BadRequest, Unauthorized, Conflict, PayloadTooLarge,
                                       UnsupportedMediaType, InvalidInput,
                                       BodyTimeout, RateLimited))
async def post_addition(admitted: AdditionAdmitted, settings: Config, storage: Storage,
                        engine: DbEngine) -> AdditionOut:
    ctx = intake_service.IntakeContext(settings, storage, channel="api")
    received = await intake_service.receive_body(
        admitted.stream(), admitted.content_type, ctx, FollowupIn,
        "Send the addition as application/json, or as multipart/form-data with a "
        "'submission' part and 'files' parts.",
    )
    return await service.add_information(engine, ctx, admitted.authorized, received)


def _check_open(session: Session, token: str | None) -> service.FollowupAccess:
    access = service.authenticate(session, token)
    service.require_open(session, access)
    return access
