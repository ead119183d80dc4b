"""FastAPI dependencies for the core: the app's services and the request's unit of work.

The app's services are one container built in ``create_app`` (:mod:`api.services`, the
composition root) and kept on ``app.state.services``. The core may not import that
container (it names every feature), so :func:`service` reads one service out of it by
name and checks its type at run time: ``app.state`` is untyped, and a Protocol annotation
on it would be a promise nobody checks, whereas a wrong or missing service fails here,
naming itself, on the first request. Each feature declares its own typed dependency with
it (``Storage`` in :mod:`api.storage.dependencies`, ``SignInLimits`` in
:mod:`api.auth.dependencies`, ...); the core keeps ``Config``, ``DbEngine``, ``Clock``,
``Now`` and ``DbSession``.

``DbSession`` commits once the route function has returned and rolls back on any error.
It uses FastAPI's ``scope="function"`` so the commit happens *before* the response is
sent: a 201 always means the data is durable. The unit of work itself lives in
:mod:`api.core.db`, free of the web framework, for jobs and the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, TypeVar, cast

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from api.core import clock
from api.core.db import unit_of_work
from api.core.settings import Settings

T = TypeVar("T")


# (type of a service, kind asked for) pairs already checked. Several kinds are runtime
# protocols (BlobStorage, ...), whose isinstance walks every member of the protocol on
# each call: done once per type, not on every request.
_CHECKED: set[tuple[type, type]] = set()


def service(request: Request, name: str, kind: type[T]) -> T:
    """The app's service ``name``, checked to be a ``kind``."""
    found = getattr(request.app.state.services, name, None)
    if (type(found), kind) not in _CHECKED:
        if not isinstance(found, kind):
            raise TypeError(f"the app's service {name!r} is not a {kind.__name__}")
        _CHECKED.add((type(found), kind))
    return cast(T, found)


def app_settings(request: Request) -> Settings:
    return service(request, "settings", Settings)


def app_engine(request: Request) -> Engine:
    return service(request, "engine", Engine)


def _request_session(request: Request) -> Iterator[Session]:
    with unit_of_work(app_engine(request)) as session:
        yield session


DbSession = Annotated[Session, Depends(_request_session, scope="function")]


def app_clock(request: Request) -> clock.Clock:
    return service(request, "clock", clock.Clock)


def request_now(request: Request) -> datetime:
    """The app clock's time for this request (tests move it; see api/core/clock.py)."""
    return app_clock(request).now()


# The dependencies themselves are ``async def``: FastAPI runs a plain ``def`` dependency in
# its thread pool, a thread hop (and under load a wait for a core) per dependency and
# request for what is an attribute read. Measured on a small tus upload (bench/
# tus_peers.py), its three such hops were a fifth of the time the server held the GIL.
async def _config(request: Request) -> Settings:
    return app_settings(request)


async def _engine(request: Request) -> Engine:
    return app_engine(request)


async def _clock(request: Request) -> clock.Clock:
    return app_clock(request)


async def _now(request: Request) -> datetime:
    return request_now(request)


Config = Annotated[Settings, Depends(_config)]
DbEngine = Annotated[Engine, Depends(_engine)]
Clock = Annotated[clock.Clock, Depends(_clock)]
Now = Annotated[datetime, Depends(_now)]
