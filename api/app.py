"""The FastAPI application factory: middleware, error handling and feature routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from api import __version__
from api.core.db import make_engine
from api.core.error_handlers import install_error_handlers
from api.core.privacy import ClientAnonymityMiddleware
from api.core.settings import Settings, get_settings
from api.health.router import router as health_router
from api.services import build_services
from api.web.security import SecurityHeadersMiddleware


def feature_routers() -> list[APIRouter]:
    # Imported here so each feature's router module loads with the app, not with the CLI.
    from api.admin.router import router as audit
    from api.approvals.router import requests as approval_requests
    from api.approvals.router import router as approvals
    from api.auth.router import router as auth
    from api.cases.router import router as cases
    from api.followup.router import router as followup
    from api.intake.router import router as intake
    from api.jobs.router import router as jobs
    from api.notifications.router import router as notifications
    from api.partners.router import router as partners
    from api.stats.router import router as stats
    from api.uploads.router import router as uploads
    from api.vocab.router import router as vocab
    from api.web.router import router as web

    # approval_requests holds the routes that file a two-person request, under the admin
    # user and case URLs; none of its paths overlaps a route of another router, so where it
    # sits in this list does not change which route a request matches.
    return [auth, approvals, approval_requests, audit, partners, intake, uploads, followup,
            cases, vocab, jobs, notifications, stats, web]


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or make_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="Dokaz",
        version=__version__,
        description="Secure case intake and documentation of detention, torture and "
        "enforced disappearance.",
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
        debug=settings.debug,
    )
    services = app.state.services = build_services(settings, engine)

    install_error_handlers(app)
    app.include_router(health_router)
    for router in feature_routers():
        app.include_router(router)

    app.add_middleware(SecurityHeadersMiddleware, onion_address=settings.onion_address)
    # Outermost: nothing inside the app ever sees a client address or user agent.
    app.add_middleware(ClientAnonymityMiddleware, identity=settings.client_identity,
                       circuit_key=services.circuit_key)
    return app
