"""``/api/docs`` (Swagger UI) and ``/api/redoc`` (ReDoc), working offline.

Swagger UI's and ReDoc's bundles come from the ``fastapi-offline`` package (MIT), which
ships them in its ``static/`` folder (1.7.7: Swagger UI 5.32.6, Apache-2.0; ReDoc 2.5.3,
MIT), the start-up scripts from ``static/`` here. Nothing is loaded from
another origin, and each page says so in its own Content-Security-Policy (the security
middleware keeps a policy a route set). A fresh nonce per response admits ReDoc's
generated ``<style>`` elements and nothing else inline.
"""

from __future__ import annotations

import secrets
from html import escape
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.core.errors import NotFound

router = APIRouter(tags=["docs"], include_in_schema=False)

ASSETS_PATH = "/api/docs/assets"
_VENDORED = resources.files("fastapi_offline") / "static"
_OWN = resources.files("api.apidocs") / "static"
# The only files served, by name: no path from a request ever reaches the file system.
ASSETS: dict[str, tuple[Traversable, str]] = {
    "swagger-ui-bundle.js": (_VENDORED / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (_VENDORED / "swagger-ui.css", "text/css"),
    "redoc.standalone.js": (_VENDORED / "redoc.standalone.js", "text/javascript"),
    "favicon.png": (_VENDORED / "favicon.png", "image/png"),
    "swagger-init.js": (_OWN / "swagger-init.js", "text/javascript"),
    "redoc-init.js": (_OWN / "redoc-init.js", "text/javascript"),
}


# ReDoc's bundle writes one stylesheet (perfect-scrollbar's) into a <style> element as it
# loads, before Redoc.init can hand it the nonce, and briefly an empty one: admitted by
# their hashes. A new ReDoc changes the first; tests/web/test_api_docs_browser.py then
# fails on the violation (its console message names the new hash).
REDOC_STYLE_HASHES = (
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty string
)


def docs_csp(nonce: str) -> str:
    return "; ".join((
        "default-src 'none'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}' {' '.join(REDOC_STYLE_HASHES)}",
        # Swagger UI's stylesheet draws its icons as data: SVGs.
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",  # the document itself and "Try it out"
        # ReDoc runs its search index in a worker it builds from a blob: of its own code.
        "worker-src blob:",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ))


def _page(title: str, body: str, nonce: str) -> HTMLResponse:
    html = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon.png">
{body}
</html>
"""
    return HTMLResponse(html, headers={"Content-Security-Policy": docs_csp(nonce),
                                       "Cache-Control": "no-store"})


def _openapi_url(request: Request) -> str:
    return escape(request.app.openapi_url or "/api/openapi.json")


@router.get("/api/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    body = f"""<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{_openapi_url(request)}"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js" nonce="{nonce}"></script>
<script src="{ASSETS_PATH}/swagger-init.js" nonce="{nonce}"></script>
</body>"""
    return _page(f"{request.app.title} API - Swagger UI", body, nonce)


@router.get("/api/redoc")
def redoc(request: Request) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    body = f"""</head>
<body>
<div id="redoc" data-openapi-url="{_openapi_url(request)}"></div>
<script src="{ASSETS_PATH}/redoc.standalone.js" nonce="{nonce}"></script>
<script src="{ASSETS_PATH}/redoc-init.js" nonce="{nonce}"></script>
</body>"""
    return _page(f"{request.app.title} API - ReDoc", body, nonce)


@router.get(ASSETS_PATH + "/{name}")
def asset(name: str) -> Response:
    found = ASSETS.get(name)
    if found is None:
        raise NotFound("No such documentation asset.")
    path, media_type = found
    return Response(path.read_bytes(), media_type=media_type)
