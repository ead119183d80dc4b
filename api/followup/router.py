"""``/api/v1/followup``: status, messages and additions for the submitter, by receipt."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlmodel import Session

from api.auth.dependencies import bearer_token
from api.core.dependencies import DbSession
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
from api.intake import guards
from api.intake import service as intake_service
from api.intake.dependencies import app_engine, app_settings, app_storage
from api.intake.files import FileBatch
from api.intake.schemas import FollowupIn

router = APIRouter(prefix="/api/v1/followup", tags=["followup"])


def _access(request: Request, session: Session) -> service.FollowupAccess:
    return service.authenticate(session, bearer_token(request))


@router.post("/session", status_code=201, response_model=SessionOut,
             summary="Exchange a receipt for a short-lived follow-up token",
             responses=error_responses(BadRequest, Unauthorized, RateLimited, InvalidInput))
async def open_session(request: Request, body: SessionIn) -> SessionOut:
    settings = app_settings(request)
    guards.check_headers(request, settings)
    return await service.start_session(app_engine(request), settings,
                                       guards.guards_for(request), guards.client_tag(request),
                                       body.receipt)


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
def post_message(request: Request, body: MessageIn, session: DbSession) -> MessageOut:
    return service.send_message(session, _access(request, session), body.text)


@router.post("/additions", status_code=201, response_model=AdditionOut,
             summary="Add information and files to your case (JSON or multipart)",
             responses=error_responses(BadRequest, Unauthorized, Conflict, PayloadTooLarge,
                                       UnsupportedMediaType, InvalidInput,
                                       guards.BodyTimeout, RateLimited))
async def post_addition(request: Request) -> AdditionOut:
    settings = app_settings(request)
    storage = app_storage(request)
    engine = app_engine(request)
    guards.check_headers(request, settings)
    token = bearer_token(request)
    access = await intake_service.in_transaction(
        engine, lambda s: _check_open(s, token)
    )
    guards.check_rate(guards.guards_for(request).per_client, guards.client_tag(request))
    guards.check_disk(settings, storage, guards.content_length(request) or 0)
    ctx = intake_service.IntakeContext(settings, storage, channel="api")
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    body = guards.timed_stream(request, settings)
    if content_type == "application/json":
        raw = await intake_service.read_json_body(body, settings.max_json_bytes)
        data = intake_service.parse_json_model(raw, FollowupIn)
        received = intake_service.ReceivedSubmission(data, FileBatch(storage,
                                                                     ctx.file_limits()))
    elif content_type == "multipart/form-data":
        received = await intake_service.receive_multipart_submission(
            body, request.headers.get("content-type"), ctx, FollowupIn
        )
    else:
        raise UnsupportedMediaType(
            "Send the addition as application/json, or as multipart/form-data with a "
            "'submission' part and 'files' parts."
        )
    return await service.add_information(engine, ctx, access, received)


def _check_open(session: Session, token: str | None) -> service.FollowupAccess:
    access = service.authenticate(session, token)
    service.require_open(session, access)
    return access
