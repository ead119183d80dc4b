"""Request helpers shared by the intake, uploads and follow-up routers."""

from __future__ import annotations

import threading
import uuid

from fastapi import Request
from sqlalchemy import Engine
from sqlmodel import Session

from api.auth.clock import clock_of
from api.auth.dependencies import bearer_token
from api.auth.login import authenticate
from api.core.errors import Forbidden
from api.core.settings import Settings
from api.intake.service import in_transaction
from api.storage import BlobStorage, get_storage

_LOCK = threading.Lock()


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def app_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def app_storage(request: Request) -> BlobStorage:
    """The app's blob storage, built once per app from its settings."""
    state = request.app.state
    with _LOCK:
        storage: BlobStorage | None = getattr(state, "blob_storage", None)
        if storage is None:
            storage = get_storage(state.settings)
            state.blob_storage = storage
    return storage


async def lawyer_of(request: Request) -> uuid.UUID | None:
    """The lawyer submitting, if a staff token was sent (401 if it is not valid).

    Checked in its own short transaction rather than with ``OptionalStaff``: that
    dependency holds the request's transaction open while a body streams in for minutes.
    """
    token = bearer_token(request)
    if token is None:
        return None
    settings = app_settings(request)
    now = clock_of(request.app.state).now()

    def work(session: Session) -> tuple[uuid.UUID, str]:
        _row, user = authenticate(session, settings, token, now)
        return user.id, user.role

    user_id, role = await in_transaction(app_engine(request), work)
    if role != "lawyer":
        raise Forbidden(
            "Only lawyer accounts submit through this endpoint; staff record information "
            "in the case itself."
        )
    return user_id
