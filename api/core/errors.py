"""Domain errors, each carrying its HTTP status, and the one shape they are rendered in.

Services raise ``DokazError`` subclasses; they never build HTTP responses. One handler
(:mod:`api.core.error_handlers`) turns every error into the same JSON shape::

    {"error": {"code": "not_found", "message": "No such case.", "details": {...}}}

Messages are written for a person and never contain protected content: no narrative,
name, filename or receipt is ever interpolated into an error.
Routes list the errors they can raise with ``error_responses(...)`` so OpenAPI is honest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel


class DokazError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_message: ClassVar[str] = "The request could not be processed."

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(DokazError):
    pass


class Unauthorized(DokazError):
    status_code = 401
    code = "unauthorized"
    default_message = "You need to sign in to do this."


class Forbidden(DokazError):
    status_code = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class NotFound(DokazError):
    status_code = 404
    code = "not_found"
    default_message = "Nothing was found here."


class Conflict(DokazError):
    status_code = 409
    code = "conflict"
    default_message = "This conflicts with the current state."


class Gone(DokazError):
    status_code = 410
    code = "gone"
    default_message = "This no longer exists."


class PreconditionFailed(DokazError):
    status_code = 412
    code = "precondition_failed"
    default_message = "Someone else changed this in the meantime; reload and try again."


class PayloadTooLarge(DokazError):
    status_code = 413
    code = "payload_too_large"
    default_message = "The request is larger than allowed."


class UnsupportedMediaType(DokazError):
    status_code = 415
    code = "unsupported_media_type"
    default_message = "This content type is not accepted here."


class InvalidInput(DokazError):
    status_code = 422
    code = "validation_error"
    default_message = "Some fields are not valid."


def field_path(loc: Sequence[str | int]) -> str:
    """The one format of a field's path in a 422, relative to the document sent:
    ``persons[0].sex``, ``summary.title``; list positions in brackets, keys after dots.
    Request parameters outside the body name their place first: ``query.lang``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


def field_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """``details.fields`` of a 422 from pydantic-style errors (``loc``, ``msg``, ``type``).
    The offending input is deliberately dropped: it may be testimony."""
    return [{"path": field_path(e.get("loc", ())), "message": str(e.get("msg", "invalid")),
             "type": str(e.get("type", ""))} for e in errors]


class PreconditionRequired(DokazError):
    status_code = 428
    code = "precondition_required"
    default_message = "Send If-Match with the ETag you last read."


class RateLimited(DokazError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many attempts."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            message or f"Too many attempts. Try again in {retry_after} seconds.",
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


class ServiceUnavailable(DokazError):
    status_code = 503
    code = "unavailable"
    default_message = "The service is temporarily unavailable. Please try again later."

    def __init__(self, message: str | None = None, retry_after: int = 30) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


# What a route behind sign-in and a role or scope check answers before its own code runs.
DENIED: tuple[type[DokazError], ...] = (Unauthorized, Forbidden)


def error_responses(*errors: type[DokazError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the errors an endpoint can raise."""
    out: dict[int | str, dict[str, Any]] = {}
    for err in errors:
        entry = out.setdefault(err.status_code, {"model": ErrorBody, "description": ""})
        sep = "; " if entry["description"] else ""
        entry["description"] += sep + err.default_message
    return out


_T = TypeVar("_T")


def found(value: _T | None, message: str) -> _T:
    """``value`` when a lookup found it, else ``NotFound(message)``."""
    if value is None:
        raise NotFound(message)
    return value
