"""The one place errors are rendered: FastAPI exception handlers.

Every error becomes the JSON shape of :func:`api.core.errors.error_body`; the domain
errors themselves live in :mod:`api.core.errors`, free of the web framework. On the
public pages an error a route did not answer itself (a malformed address, a wrong method,
a failure on our side) is a page instead, in the page's language: the app hands in the
web surface's renderer as ``pages`` (this package sits below ``api.web``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.core.errors import DokazError, InvalidInput, error_body
from api.core.logging import route_template

log = logging.getLogger("dokaz.errors")

# The page for an error on a public page (status, and the domain error if there is one),
# or None when the request is not for a page.
PageErrors = Callable[[Request, int, DokazError | None], Response | None]


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


def validation_fields(exc: RequestValidationError) -> list[dict[str, str]]:
    # The offending input is deliberately dropped: it may be testimony.
    return [
        {"path": _field_path(e.get("loc", ())), "message": str(e.get("msg", "invalid")),
         "type": str(e.get("type", ""))}
        for e in exc.errors()
    ]


def install_error_handlers(app: FastAPI, pages: PageErrors | None = None) -> None:
    def page(request: Request, status: int, exc: DokazError | None = None) -> Response | None:
        if pages is None:
            return None
        try:
            return pages(request, status, exc)
        except Exception as failure:  # the JSON answer is still better than none
            log.error("error page failed", extra={"error_type": type(failure).__name__,
                                                  "route": route_template(request.scope)})
            return None

    @app.exception_handler(DokazError)
    async def _dokaz_error(request: Request, exc: DokazError) -> Response:
        shown = page(request, exc.status_code, exc)
        if shown is not None:
            return shown
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        shown = page(request, 422)
        if shown is not None:
            return shown
        fields = validation_fields(exc)
        return JSONResponse(
            error_body(InvalidInput.code, InvalidInput.default_message, {"fields": fields}),
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        shown = page(request, exc.status_code)
        if shown is not None:
            for name, value in (getattr(exc, "headers", None) or {}).items():
                shown.headers[name] = value  # Allow on a 405
            return shown
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
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Only the exception type is logged: its message could carry protected content.
        # The route template, not the path: a path can carry an upload's secret.
        log.error("unhandled error", extra={"error_type": type(exc).__name__,
                                            "route": route_template(request.scope)})
        shown = page(request, 500)
        if shown is not None:
            return shown
        return JSONResponse(
            error_body("internal_error", "Something went wrong on our side. Nothing you "
                       "sent was kept from this request; please try again."),
            status_code=500,
        )
