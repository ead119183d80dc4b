"""Request and response bodies of the auth and admin-user endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.auth.models import StaffSession, StaffUser
from api.auth.roles import Role


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    code: str = Field(min_length=6, max_length=16, description="six-digit TOTP code")


class UserOut(BaseModel):
    id: uuid.UUID
    username: str
    role: Role
    on_intake_duty: bool
    disabled: bool
    reader_approved: bool = Field(
        description="false: no case key can reach this account until a coordinator approves "
        "it (two-person rule)")
    created_at: datetime
    last_login_at: datetime | None
    password_changed_at: datetime | None

    @classmethod
    def of(cls, user: StaffUser) -> UserOut:
        return cls(id=user.id, username=user.username, role=Role(user.role),
                   on_intake_duty=user.on_intake_duty, disabled=user.disabled_at is not None,
                   reader_approved=user.reader_approved_on is not None,
                   created_at=user.created_at, last_login_at=user.last_login_at,
                   password_changed_at=user.password_changed_at)


class LoginResponse(BaseModel):
    token: str = Field(description="Send as 'Authorization: Bearer <token>'. Shown once.")
    token_type: str = "bearer"  # noqa: S105 (the scheme name)
    session_id: uuid.UUID
    expires_at: datetime = Field(description="absolute end of the session")
    idle_timeout_seconds: int
    user: UserOut


class MeResponse(BaseModel):
    user: UserOut
    session_id: uuid.UUID
    session_expires_at: datetime


class SessionOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    current: bool

    @classmethod
    def of(cls, row: StaffSession, current: uuid.UUID) -> SessionOut:
        return cls(id=row.id, created_at=row.created_at, last_seen_at=row.last_seen_at,
                   expires_at=row.expires_at, current=row.id == current)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class PasswordChanged(BaseModel):
    sessions_ended: int
    message: str = "Password changed. Every session was signed out; sign in again."


class CreateUser(BaseModel):
    """A coordinator role or intake duty asked for here becomes an approval request."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=3, max_length=64)
    role: Role
    password: str = Field(min_length=1, max_length=256,
                          description="initial password; the person should change it")
    on_intake_duty: bool = False


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class DutyChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_intake_duty: bool


class SessionsEnded(BaseModel):
    sessions_ended: int
