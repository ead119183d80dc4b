"""Request helpers shared by the intake, uploads and follow-up routers."""

from __future__ import annotations

import uuid

from fastapi import Request
from sqlmodel import Session

from api.auth.dependencies import bearer_token
from api.auth.login import authenticate
from api.core.dependencies import app_clock, app_engine, app_settings
from api.core.errors import Forbidden
from api.intake.service import in_transaction
from api.storage.dependencies import app_storage

# The routers that read the app's services per call (not as parameters) import them from
# here; they are the core's one set of accessors.
__all__ = ["app_engine", "app_settings", "app_storage", "lawyer_of"]


async def lawyer_of(request: Request) -> uuid.UUID | None:
    """The lawyer submitting, if a staff token was sent (401 if it is not valid).

    Checked in its own short transaction rather than with ``OptionalStaff``: that
    dependency holds the request's transaction open while a body streams in for minutes.
    """
    token = bearer_token(request)
    if token is None:
        return None
    settings = app_settings(request)
    now = app_clock(request).now()

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
