"""Request helpers of the intake router: who is submitting (a lawyer's token, or nobody)."""

from __future__ import annotations

import uuid

from fastapi import Request
from sqlmodel import Session

from api.auth.dependencies import bearer_token
from api.auth.login import authenticate
from api.core.db import in_transaction
from api.core.dependencies import app_clock, app_engine, app_settings
from api.core.errors import Forbidden


async def lawyer_of(request: Request) -> uuid.UUID | None:
    """The lawyer submitting, if a staff token was sent (401 if it is not valid).

    Checked in its own short transaction rather than with ``OptionalStaff``: that
    dependency holds the request's transaction open while a body streams in for minutes.
    It is the submission door's authorize hook (:mod:`api.ingress.admit`): it runs after
    the rate and disk guards, before the recovery-key check.
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
