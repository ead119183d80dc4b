"""``/api/v1/submissions``: the public intake endpoint and its published schema."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response

from api.core.dependencies import Config, DbEngine
from api.core.errors import (
    BadRequest,
    Forbidden,
    InvalidInput,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    error_responses,
)
from api.core.openapi import body_schema_ref
from api.ingress.admit import Admission, Door, admission
from api.ingress.guards import BodyTimeout, HeadersTooLarge
from api.intake import replays, service
from api.intake.dependencies import lawyer_of
from api.intake.schemas import SCHEMA_ID, SubmissionIn, SubmissionOut, submission_json_schema
from api.storage.dependencies import Storage

router = APIRouter(prefix="/api/v1/submissions", tags=["intake"])

# Admitted through the submission door; ``authorized`` is the lawyer submitting, if any.
Admitted = Annotated[Admission[uuid.UUID | None],
                     Depends(admission(Door.SUBMISSION, lawyer_of))]

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": body_schema_ref(SubmissionIn)},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["submission"],
                    "properties": {
                        "submission": {"type": "string", "description":
                                       f"The report as JSON ({SCHEMA_ID}); must come first."},
                        "files": {"type": "array",
                                  "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
        },
    }
}


@router.get("/schema", summary="The published submission JSON schema")
def get_schema() -> dict[str, Any]:
    return submission_json_schema()


@router.post(
    "",
    status_code=201,
    response_model=SubmissionOut,
    summary="Submit a report (anonymous, or a lawyer's token)",
    openapi_extra=_BODY_DOC,
    responses={
        200: {"model": SubmissionOut, "description": "Received before under this "
              "Idempotency-Key: nothing new was filed, and no receipt is shown."},
        **error_responses(BadRequest, Unauthorized, Forbidden, BodyTimeout,
                          service.ReplayInProgress, service.EarlierReportGone,
                          PayloadTooLarge, UnsupportedMediaType, InvalidInput,
                          replays.KeyReused, RateLimited, HeadersTooLarge,
                          ServiceUnavailable),
    },
)
async def post_submission(
    admitted: Admitted, settings: Config, storage: Storage, engine: DbEngine,
    response: Response,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", max_length=1024, description=(
            "A random value (16 to 255 characters, e.g. a UUID), new for every report: "
            "sending the request again with it files nothing new and answers 200 with "
            "the case reference (the receipt only ever comes in the first answer)."))
    ] = None,
) -> SubmissionOut:
    lawyer_id = admitted.authorized
    key = replays.parse_api_key(idempotency_key)
    ctx = service.IntakeContext(
        settings, storage, channel="lawyer" if lawyer_id else "api", lawyer_id=lawyer_id
    )
    async with service.receipt_ahead(settings) as receipt:  # hashed while the body streams
        received = await service.receive_body(
            admitted.stream(), admitted.content_type, ctx, SubmissionIn,
            "Send the report as application/json, or as multipart/form-data with a "
            "'submission' part and 'files' parts.",
        )
        replay = service.replay_key(settings, replays.api_scope(lawyer_id), key, received)
        out = await service.submit(engine, ctx, received, receipt, replay)
    if out.already_received:
        response.status_code = 200
    return out
