"""FastAPI dependencies for the core: the app's services and the request's unit of work.

``Config``, ``DbEngine``, ``Storage``, ``Clock``, ``Now`` and the limiters are typed views
of the app's one :class:`~api.core.services.AppServices` (built in ``create_app``).

``DbSession`` commits once the route function has returned and rolls back on any error.
It uses FastAPI's ``scope="function"`` so the commit happens *before* the response is
sent: a 201 always means the data is durable. The unit of work itself lives in
:mod:`api.core.db`, free of the web framework, for jobs and the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from api.auth.clock import Clock as AuthClock
from api.auth.throttle import GlobalLimiter
from api.core.db import unit_of_work
from api.core.services import AppServices, services_of
from api.core.settings import Settings
from api.ingress.guards import Guards
from api.stats.limits import PullLimiter
from api.storage import BlobStorage


def _request_session(request: Request) -> Iterator[Session]:
    with unit_of_work(services_of(request.app).engine) as session:
        yield session


DbSession = Annotated[Session, Depends(_request_session, scope="function")]


def request_services(request: Request) -> AppServices:
    return services_of(request.app)


def app_settings(request: Request) -> Settings:
    return services_of(request.app).settings


def app_engine(request: Request) -> Engine:
    return services_of(request.app).engine


def app_storage(request: Request) -> BlobStorage:
    """The app's one blob storage client (see :mod:`api.core.services`)."""
    return services_of(request.app).storage


def _clock(request: Request) -> AuthClock:
    return services_of(request.app).clock


def _login_limiter(request: Request) -> GlobalLimiter:
    return services_of(request.app).login_limiter


def _stats_limiter(request: Request) -> PullLimiter:
    return services_of(request.app).stats_limiter


def _intake_guards(request: Request) -> Guards:
    return services_of(request.app).intake_guards


def request_now(request: Request) -> datetime:
    """The auth clock's time for this request (tests move it; see api/auth/clock.py)."""
    return services_of(request.app).clock.now()


Services = Annotated[AppServices, Depends(request_services)]
Config = Annotated[Settings, Depends(app_settings)]
DbEngine = Annotated[Engine, Depends(app_engine)]
Storage = Annotated[BlobStorage, Depends(app_storage)]
Clock = Annotated[AuthClock, Depends(_clock)]
LoginLimiter = Annotated[GlobalLimiter, Depends(_login_limiter)]
StatsLimiter = Annotated[PullLimiter, Depends(_stats_limiter)]
IntakeGuards = Annotated[Guards, Depends(_intake_guards)]
Now = Annotated[datetime, Depends(request_now)]
