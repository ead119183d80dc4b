"""Reading a public request body: which kind it is, and a JSON body within its limit.

A public door takes a document as ``application/json`` or as ``multipart/form-data`` (the
document in a first part, files after it, see :mod:`api.ingress.multipart`);
:func:`body_kind` tells them apart and refuses anything else (415, in the door's words).
:func:`read_json_body` reads at most ``limit`` bytes while they arrive and
:func:`parse_json_model` turns them into a validated model: 400 for bad UTF-8 or JSON,
422 for values that cannot be taken and for schema errors, listing field paths
(:func:`api.core.errors.field_path`) but never the input.
"""

from __future__ import annotations

import enum
import json
import math
import sys
from collections.abc import AsyncIterable, Iterator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from api.core.errors import (
    BadRequest,
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
    field_errors,
)
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


class _Unreadable:
    """Stands, while a document is decoded, where a value cannot be taken; the walk in
    :func:`_unreadable_fields` then names its path."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


# Python refuses to turn more digits than this into an int (CVE-2020-10735): a longer
# integer would raise in the middle of decoding, with no field to name.
_MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300


def _int(text: str) -> int | _Unreadable:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        return _Unreadable(f"The number has more than {_MAX_INT_DIGITS} digits.")
    return int(text)


def _float(text: str) -> float | _Unreadable:
    value = float(text)
    return value if math.isfinite(value) else _Unreadable("The number is too large.")


def _constant(text: str) -> _Unreadable:
    # NaN and Infinity are not JSON, though Python's decoder takes them by default.
    return _Unreadable(f"{text} is not a JSON number.")


def _unreadable_fields(node: Any, loc: tuple[str | int, ...] = ()) -> Iterator[dict[str, Any]]:
    if isinstance(node, _Unreadable):
        yield {"loc": loc, "msg": node.reason, "type": "number_unreadable"}
    elif isinstance(node, str):
        try:
            node.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800"
            yield {"loc": loc, "msg": "The text holds an escape (\\uD800-\\uDFFF) that is "
                   "not a character.", "type": "string_unreadable"}
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _unreadable_fields(key, loc)
            yield from _unreadable_fields(value, (*loc, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _unreadable_fields(value, (*loc, index))


def parse_json_model(raw: bytes, model: type[M]) -> M:
    """Bytes of a JSON document to a validated model (400 / 422 with clear messages).

    400 when the bytes are not a JSON document at all; 422, naming each field, when the
    document is JSON but holds values that cannot be taken (an integer past Python's
    digit limit, a number beyond a float, NaN, a lone surrogate) or fails the schema.
    """
    if not raw.strip():
        raise InvalidJson("The submission is empty: send the report as JSON.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJson("The submission is not valid UTF-8 text.") from None
    try:
        document = json.loads(text, parse_int=_int, parse_float=_float,
                              parse_constant=_constant)
    except (json.JSONDecodeError, RecursionError):
        raise InvalidJson("The submission is not valid JSON.") from None
    unreadable = list(_unreadable_fields(document))
    if unreadable:
        raise InvalidInput(details={"fields": field_errors(unreadable)})
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        raise InvalidInput(details={"fields": field_errors(errors)}) from None
