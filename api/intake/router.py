"""``/api/v1/submissions``: the public intake endpoint and its published schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

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
from api.intake import guards, service
from api.intake.dependencies import app_engine, app_settings, app_storage, lawyer_of
from api.intake.files import FileBatch
from api.intake.multipart import mb
from api.intake.schemas import SCHEMA_ID, SubmissionOut, submission_json_schema

router = APIRouter(prefix="/api/v1/submissions", tags=["intake"])

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/SubmissionIn"}},
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
    responses=error_responses(BadRequest, Unauthorized, Forbidden, guards.BodyTimeout,
                              PayloadTooLarge, UnsupportedMediaType, InvalidInput,
                              RateLimited, guards.HeadersTooLarge, ServiceUnavailable),
)
async def post_submission(request: Request) -> SubmissionOut:
    settings = app_settings(request)
    storage = app_storage(request)
    engine = app_engine(request)
    guards.check_intake_allowed(request, settings)
    length = guards.content_length(request)
    limit = settings.max_submission_bytes
    if length is not None and length > limit:
        raise PayloadTooLarge(
            f"The upload is larger than the limit of {mb(limit)} for one submission. Nothing "
            "was saved; send fewer or smaller files, or use resumable uploads."
        )
    guards.check_disk(settings, storage, length or 0)
    lawyer_id = await lawyer_of(request)
    await service.in_transaction(engine, service.ensure_intake_configured)
    ctx = service.IntakeContext(
        settings, storage, channel="lawyer" if lawyer_id else "api", lawyer_id=lawyer_id
    )
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    body = guards.timed_stream(request, settings)
    if content_type == "application/json":
        raw = await service.read_json_body(body, settings.max_json_bytes)
        data = service.parse_submission_json(raw)
        received = service.ReceivedSubmission(data, FileBatch(storage, ctx.file_limits()))
    elif content_type == "multipart/form-data":
        received = await service.receive_multipart_submission(
            body, request.headers.get("content-type"), ctx
        )
    else:
        raise UnsupportedMediaType(
            "Send the report as application/json, or as multipart/form-data with a "
            "'submission' part and 'files' parts."
        )
    return await service.submit(engine, ctx, received)
