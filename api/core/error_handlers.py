"""The one place errors are rendered: FastAPI exception handlers.

Every error becomes the JSON shape of :func:`api.core.errors.error_body`; the domain
errors themselves live in :mod:`api.core.errors`, free of the web framework.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.core.errors import DokazError, InvalidInput, NotFound, error_body, field_errors
from api.core.logging import route_template

log = logging.getLogger("dokaz.errors")


def _request_loc(error: dict[str, Any]) -> tuple[Any, ...]:
    # FastAPI's loc starts with where the value was: the body's fields are then written
    # relative to the body, as the public doors and the services write them
    # (api.core.errors.field_path); other places keep their name: "query.lang".
    where, *rest = tuple(error.get("loc", ())) or ("body",)
    if where != "body":
        return (where, *rest)
    if error.get("type") == "json_invalid" or not rest:
        return ("body",)  # the body as a whole (FastAPI puts a character offset here)
    return tuple(rest)


def validation_fields(exc: RequestValidationError) -> list[dict[str, str]]:
    return field_errors({**e, "loc": _request_loc(e)} for e in exc.errors())


PageRenderer = Callable[[Request, DokazError], Response]
"""Renders a domain error as an HTML page (the staff console's ``pages.error_page``)."""


def install_error_handlers(app: FastAPI,
                           pages: Sequence[tuple[str, PageRenderer]] = ()) -> None:
    """The handlers; ``pages`` names path prefixes whose errors are HTML pages, each with
    its renderer (the composition root passes them, so this module knows no page)."""

    def page_for(request: Request) -> PageRenderer | None:
        path = request.url.path
        for prefix, renderer in pages:
            if path == prefix or path.startswith(prefix + "/"):
                return renderer
        return None

    @app.exception_handler(DokazError)
    async def _dokaz_error(request: Request, exc: DokazError) -> Response:
        renderer = page_for(request)
        if renderer is not None:
            return renderer(request, exc)
        details = dict(exc.details)
        if isinstance(exc, InvalidInput) and "path" in details and "fields" not in details:
            # A service names the one field it refused (``persons[1].id``): shown in the
            # same ``fields`` list as every other 422, so a client reads one shape.
            path = str(details.pop("path"))
            details["fields"] = [{"path": path, "message": exc.message, "type": "invalid"}]
        return JSONResponse(
            error_body(exc.code, exc.message, details),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        renderer = page_for(request)
        if renderer is not None:
            return renderer(request, InvalidInput())
        fields = validation_fields(exc)
        return JSONResponse(
            error_body(InvalidInput.code, InvalidInput.default_message, {"fields": fields}),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        renderer = page_for(request)
        if renderer is not None and exc.status_code in (404, 405):
            return renderer(request, NotFound())
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            # FastAPI's own body parsing: JSON that is well formed but cannot be taken (an
            # integer past Python's digit limit, nesting past the recursion limit, bytes
            # that are not UTF-8) is a value the client must change, like any other 422.
            fields = [{"path": "body", "message": "The body holds a value that cannot be "
                       "read (a number too long, nesting too deep or text that is not "
                       "UTF-8).", "type": "json_unparsable"}]
            return JSONResponse(
                error_body(InvalidInput.code, InvalidInput.default_message, {"fields": fields}),
                status_code=422,
            )
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
                 403: "forbidden", 413: "payload_too_large", 429: "rate_limited"}
        message = exc.detail if isinstance(exc.detail, str) else "The request failed."
        if exc.status_code == 404:
            message = "Nothing was found here."
        return JSONResponse(
            error_body(codes.get(exc.status_code, "http_error"), message),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Only the exception type is logged: its message could carry protected content.
        # The route template, not the path: a path can carry an upload's secret.
        log.error("unhandled error", extra={"error_type": type(exc).__name__,
                                            "route": route_template(request.scope)})
        return JSONResponse(
            error_body("internal_error", "Something went wrong on our side. Nothing you "
                       "sent was kept from this request; please try again."),
            status_code=500,
        )
