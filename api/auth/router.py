"""Sign-in, sessions and password for staff; user administration for admins."""

from __future__ import annotations

import uuid
from enum import Enum

from fastapi import APIRouter, Response, status

from api.auth import accounts, repository
from api.auth import login as login_service
from api.auth.accounts import Actor
from api.auth.dependencies import (
    AdminOnly,
    CurrentStaff,
    CurrentStaffChecked,
    SignInClient,
    SignInLimits,
)
from api.auth.models import StaffSession
from api.auth.schemas import (
    LoginRequest,
    LoginResponse,
    MeResponse,
    PasswordChange,
    PasswordChanged,
    SessionOut,
    SessionsEnded,
    UserOut,
)
from api.core.dependencies import Config, DbEngine, DbSession, Now
from api.core.errors import (
    DENIED,
    Conflict,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    error_responses,
)

router = APIRouter(prefix="/api/v1")
AUTH: list[str | Enum] = ["auth"]
ADMIN: list[str | Enum] = ["admin: users"]


def _actor(me: CurrentStaff) -> Actor:
    return Actor("staff", me.user_id)


@router.post("/auth/login", tags=AUTH, response_model=LoginResponse,
             responses=error_responses(Unauthorized, InvalidInput, RateLimited,
                                       ServiceUnavailable))
async def login(body: LoginRequest, engine: DbEngine, settings: Config, now: Now,
                limits: SignInLimits, client: SignInClient) -> LoginResponse:
    """Sign in with username, password and the current six-digit TOTP code.

    Failed sign-ins slow the sender, then the account: 429 with ``Retry-After`` (never
    more than a few minutes) says how long to wait."""
    result = await login_service.sign_in(
        engine, settings, limits, client=client, username=body.username,
        password=body.password, code=body.code, now=now,
    )
    return LoginResponse(
        token=result.token, session_id=result.session.id, expires_at=result.session.expires_at,
        idle_timeout_seconds=settings.session_idle_minutes * 60, user=UserOut.of(result.user),
    )


@router.post("/auth/logout", tags=AUTH, status_code=status.HTTP_204_NO_CONTENT,
             responses=error_responses(Unauthorized))
def logout(me: CurrentStaff, session: DbSession, now: Now) -> Response:
    """End this session; its token and the key it held stop working at once."""
    login_service.logout(session, me.user_id, me.session_id, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/auth/me", tags=AUTH, response_model=MeResponse,
            responses=error_responses(Unauthorized))
def me(me: CurrentStaff, session: DbSession) -> MeResponse:
    user = accounts.require_user(session, me.user_id)
    row = session.get(StaffSession, me.session_id)
    assert row is not None  # authenticated just now, in this transaction
    return MeResponse(user=UserOut.of(user), session_id=row.id,
                      session_expires_at=row.expires_at)


@router.post("/auth/password", tags=AUTH, response_model=PasswordChanged,
             responses=error_responses(Unauthorized, InvalidInput, RateLimited, Conflict))
async def change_password(body: PasswordChange, me: CurrentStaffChecked, engine: DbEngine,
                          settings: Config, now: Now, limits: SignInLimits
                          ) -> PasswordChanged:
    """Change your password: re-seals your private key and signs out every session."""
    ended = await login_service.change_password(
        engine, settings, limits, me.user_id, current=body.current_password,
        new=body.new_password, now=now)
    return PasswordChanged(sessions_ended=ended)


@router.get("/auth/sessions", tags=AUTH, response_model=list[SessionOut],
            responses=error_responses(Unauthorized))
def my_sessions(me: CurrentStaff, session: DbSession, now: Now) -> list[SessionOut]:
    rows = repository.active_sessions(session, me.user_id, now)
    return [SessionOut.of(row, me.session_id) for row in rows]


@router.delete("/auth/sessions/{session_id}", tags=AUTH, status_code=204,
               responses=error_responses(Unauthorized, NotFound))
def revoke_my_session(session_id: uuid.UUID, me: CurrentStaff, session: DbSession,
                      now: Now) -> Response:
    """Sign out one of your sessions (for example a forgotten browser)."""
    if not login_service.revoke_own_session(session, me.user_id, session_id, now):
        raise NotFound("You have no active session with that id.")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---- admin: users ----

@router.get("/admin/users", tags=ADMIN, response_model=list[UserOut],
            responses=error_responses(*DENIED))
def list_users(me: AdminOnly, session: DbSession) -> list[UserOut]:
    return [UserOut.of(u) for u in repository.list_staff(session)]


@router.post("/admin/users/{user_id}/disable", tags=ADMIN, response_model=UserOut,
             responses=error_responses(*DENIED, NotFound, Conflict))
def disable_user(user_id: uuid.UUID, me: AdminOnly, session: DbSession, now: Now) -> UserOut:
    """Disable an account and sign out its sessions."""
    user = accounts.require_user(session, user_id)
    return UserOut.of(accounts.disable_user(session, user, actor=_actor(me), now=now))


@router.post("/admin/users/{user_id}/enable", tags=ADMIN, response_model=UserOut,
             responses=error_responses(*DENIED, NotFound))
def enable_user(user_id: uuid.UUID, me: AdminOnly, session: DbSession, now: Now) -> UserOut:
    user = accounts.require_user(session, user_id)
    return UserOut.of(accounts.enable_user(session, user, actor=_actor(me), now=now))


@router.post("/admin/users/{user_id}/revoke-sessions", tags=ADMIN, response_model=SessionsEnded,
             responses=error_responses(*DENIED, NotFound))
def revoke_sessions(user_id: uuid.UUID, me: AdminOnly, session: DbSession,
                    now: Now) -> SessionsEnded:
    user = accounts.require_user(session, user_id)
    return SessionsEnded(
        sessions_ended=accounts.revoke_user_sessions(session, user, actor=_actor(me), now=now)
    )
