"""The FastAPI application factory: middleware, error handling and the feature routers
of each surface (:data:`ROUTER_SURFACES`)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from api import __version__
from api.audit.service import acquire_background_chainer, release_background_chainer
from api.console.pages import error_page as console_error_page
from api.core.db import make_engine
from api.core.error_handlers import install_error_handlers
from api.core.openapi import add_body_models
from api.core.privacy import ClientAnonymityMiddleware
from api.core.settings import Settings, get_settings
from api.core.surfaces import Surface, client_identity_for
from api.services import AppServices, build_services
from api.uploads.protocol import TusProtocolMiddleware
from api.web.errors import PAGE_PREFIXES, page_error
from api.web.security import SecurityHeadersMiddleware

# Which surface serves each router (api/core/surfaces.py), as "module" (its ``router``) or
# "module:attribute". Every router module is placed
# here and nowhere else; tests/foundation/test_surfaces.py fails for one that is not, and
# checks the staff log prefixes (api.core.logging.STAFF_PATH_PREFIXES) against this table.
ROUTER_SURFACES: dict[str, Surface] = {
    # First: a request is matched against each router in this order, and tus requests are
    # most of what the public port answers (a file's every piece; no path of it overlaps
    # another router's, so its place changes no route matching).
    "api.uploads.router": Surface.PUBLIC,
    "api.health.router": Surface.ALL,
    # Each surface documents its own routes (its /api/openapi.json), so each serves the docs.
    "api.apidocs.router": Surface.ALL,
    "api.auth.router": Surface.STAFF,
    "api.approvals.router": Surface.STAFF,
    # The routes that file a two-person request, under the admin user and case URLs; no
    # path of it overlaps another router's, so its place here changes no route matching.
    "api.approvals.router:requests": Surface.STAFF,
    "api.admin.router": Surface.STAFF,
    "api.admin.router:profile_router": Surface.STAFF,
    "api.partners.router": Surface.STAFF,
    "api.intake.router": Surface.PUBLIC,
    "api.followup.router": Surface.PUBLIC,
    "api.cases.router": Surface.STAFF,
    "api.vocab.router": Surface.PUBLIC,
    "api.jobs.router": Surface.STAFF,
    "api.notifications.router": Surface.STAFF,
    "api.stats.router": Surface.STAFF,
    "api.web.router": Surface.PUBLIC,
    "api.console.router": Surface.STAFF,
}


def placed_routers(surface: Surface = Surface.ALL) -> list[tuple[APIRouter, Surface]]:
    """(router, where it is placed) for every router an app of ``surface`` serves."""
    # Imported here so each feature's router module loads with the app, not with the CLI.
    placed = []
    for module, where in ROUTER_SURFACES.items():
        if surface.serves(where):
            name, _, attribute = module.partition(":")
            router: APIRouter = getattr(importlib.import_module(name), attribute or "router")
            placed.append((router, where))
    return placed


def feature_routers() -> list[APIRouter]:
    return [router for router, _ in placed_routers()]


def create_app(settings: Settings | None = None, engine: Engine | None = None,
               surface: Surface = Surface.ALL, services: AppServices | None = None) -> FastAPI:
    """The app serving ``surface``. Apps of one process share ``services`` (one engine,
    one storage client, one set of limiters): build them once with
    :func:`api.services.build_services` and pass them to each; their owner then disposes
    the engine. Without ``services`` the app builds its own and disposes the engine."""
    if services is None:
        settings = settings or get_settings()
        owned_engine = engine or make_engine(settings, serving=True)
        services = build_services(settings, owned_engine)
    else:
        owned_engine = None
        settings = services.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Chains what this process's commits skipped or a crashed process left unchained.
        acquire_background_chainer(services.engine, settings.audit_chain_max_age_seconds,
                                   settings.audit_chain_max_pending)
        try:
            yield
        finally:
            release_background_chainer(services.engine)
        if owned_engine is not None:
            owned_engine.dispose()

    app = FastAPI(
        title="Dokaz",
        version=__version__,
        description="Secure case intake and documentation of detention, torture and "
        "enforced disappearance.",
        lifespan=lifespan,
        # Served by api.apidocs instead: FastAPI's own pages load their assets from a CDN.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        debug=settings.debug,
    )
    app.state.services = services
    app.state.surface = surface

    # Errors on the console's pages are pages in the reader's language (api/console/pages.py),
    # and on the public pages in the language the page or form carries (api/web/errors.py).
    public = [(prefix, page_error) for prefix in PAGE_PREFIXES] \
        if surface.serves(Surface.PUBLIC) else []
    install_error_handlers(app, pages=[("/staff", console_error_page), *public])
    # The body models the public doors read themselves (api.core.openapi), added once to
    # the document FastAPI builds and caches.
    fastapi_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_body_models(fastapi_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    for router, _ in placed_routers(surface):
        app.include_router(router)

    if surface.serves(Surface.PUBLIC):
        # tus framing (Tus-Resumable on every response, method override, operator-listed
        # CORS) around the upload routes and the error handlers that answer for them.
        from api.uploads.router import PREFIX as uploads_prefix

        app.add_middleware(TusProtocolMiddleware, prefix=uploads_prefix,
                           cors_origins=frozenset(settings.tus_cors_origins))
    app.add_middleware(SecurityHeadersMiddleware, onion_address=settings.onion_address)
    # Outermost: nothing inside the app ever sees a client address or user agent.
    app.add_middleware(ClientAnonymityMiddleware,
                       identity=client_identity_for(settings, surface),
                       circuit_key=services.circuit_key)
    return app
