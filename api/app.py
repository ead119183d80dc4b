"""The FastAPI application factory: middleware, error handling and feature routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from api import __version__
from api.core.db import make_engine
from api.core.errors import install_error_handlers
from api.core.privacy import ClientAnonymityMiddleware
from api.core.settings import Settings, get_settings
from api.health.router import router as health_router


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
    app.state.settings = settings
    app.state.engine = engine

    install_error_handlers(app)
    app.include_router(health_router)

    # Outermost: nothing inside the app ever sees a client address or user agent.
    app.add_middleware(ClientAnonymityMiddleware)
    return app
