"""FastAPI dependencies for the core: the request's unit of work.

``DbSession`` commits once the route function has returned and rolls back on any error.
It uses FastAPI's ``scope="function"`` so the commit happens *before* the response is
sent: a 201 always means the data is durable. The unit of work itself lives in
:mod:`api.core.db`, free of the web framework, for jobs and the CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from api.core.db import unit_of_work


def _request_session(request: Request) -> Iterator[Session]:
    with unit_of_work(request.app.state.engine) as session:
        yield session


DbSession = Annotated[Session, Depends(_request_session, scope="function")]
