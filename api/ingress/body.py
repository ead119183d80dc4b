"""Reading a public request body: which kind it is, and a JSON body within its limit.

A public door takes a document as ``application/json`` or as ``multipart/form-data`` (the
document in a first part, files after it, see :mod:`api.ingress.multipart`);
:func:`body_kind` tells them apart and refuses anything else (415, in the door's words).
:func:`read_json_body` reads at most ``limit`` bytes while they arrive and
:func:`parse_json_model` turns them into a validated model: 400 for bad UTF-8 or JSON,
422 for schema errors, listing field paths but never the input.
"""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from api.core.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from api.ingress.multipart import mb

M = TypeVar("M", bound=BaseModel)


class InvalidJson(BadRequest):
    code = "invalid_json"
    default_message = "The submission is not valid JSON."


class BodyKind(enum.Enum):
    JSON = "application/json"
    MULTIPART = "multipart/form-data"


def media_type(content_type: str | None) -> str:
    """The media type of a ``Content-Type`` header, without parameters, lower case."""
    return (content_type or "").split(";")[0].strip().lower()


def body_kind(content_type: str | None, unsupported: str) -> BodyKind:
    """JSON or multipart; anything else is a 415 saying ``unsupported``."""
    found = media_type(content_type)
    for kind in BodyKind:
        if kind.value == found:
            return kind
    raise UnsupportedMediaType(unsupported)


async def read_json_body(chunks: AsyncIterable[bytes], limit: int) -> bytes:
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(
                f"The report is larger than the limit of {mb(limit)} for its text. "
                "Send long documents as files."
            )
    return bytes(body)


def parse_json_model(raw: bytes, model: type[M]) -> M:
    """Bytes of a JSON document to a validated model (400 / 422 with clear messages)."""
    if not raw.strip():
        raise InvalidJson("The submission is empty: send the report as JSON.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJson("The submission is not valid UTF-8 text.") from None
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise InvalidJson("The submission is not valid JSON.") from None
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        fields = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise InvalidInput(details={"fields": fields}) from None
