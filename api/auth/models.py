"""Staff accounts (admin, coordinator, caseworker, lawyer), their sessions and throttling.

The staff private key is stored only sealed under Argon2id(password) with its own salt
and parameters (threat model property 3); the login hash is a separate Argon2id hash.
A session keeps the private key only encrypted under a key derived from its bearer token,
and the server stores only a hash of that token, so a seized database opens nothing.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Uuid,
)
from sqlmodel import Field, SQLModel

from api.core.models import Ciphertext, UTCDateTime, new_id, utcnow


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Plaintext: needed to log in; staff identities are acceptable to leak, content is not.
    username: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    # Plaintext: one of api.auth.roles.Role.
    role: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    password_hash: str = Field(sa_column=Column(String(256), nullable=False))
    # X25519 public key: case keys are wrapped to it.
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # The private key sealed under Argon2id(password) (crypto.staff_keys).
    sealed_private_key: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    # Plaintext: new submissions are wrapped to every active staff member on intake duty.
    on_intake_duty: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    disabled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # Plaintext, day precision: when a coordinator other than the account's creator
    # approved it as a reader (api.approvals), or when it was made on the server's shell.
    # NULL: no case key may be wrapped to this account (intake, assignment, grant), so an
    # admin alone can never make an account that reads testimony.
    reader_approved_on: date | None = Field(default=None, sa_column=Column(Date))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    # The TOTP secret, AES-GCM-encrypted under a key derived from DOKAZ_SECRET_KEY
    # (api.auth.totp), so a database dump alone cannot mint codes. NULL: not set up yet,
    # and such an account cannot sign in.
    totp_secret: bytes | None = Field(default=None, sa_column=Column(Ciphertext))
    # The last accepted 30-second TOTP step: a code is accepted only for a later step,
    # so an observed code cannot be replayed.
    totp_last_step: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )
    password_changed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_login_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # Plaintext: the staff console's language (be, ru, uk, en); NULL: the browser's.
    language: str | None = Field(default=None, sa_column=Column(String(8)))


class StaffSession(SQLModel, table=True):
    """A signed-in session. The bearer token itself is never stored, only its SHA-256."""

    __tablename__ = "staff_session"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    user_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("staff_user.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    token_hash: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    # crypto.staff_keys.encrypt_for_session blob; wiped (NULL) when the session ends.
    session_key: bytes | None = Field(default=None, sa_column=Column(Ciphertext))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # Absolute end of the session, whatever the activity.
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # Plaintext: "logout", "admin", "password_change", ... (never user input).
    revoke_reason: str | None = Field(default=None, sa_column=Column(String(32)))


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per account name, shared by every API process (api/auth/throttle.py).

    Keyed by an HMAC of the lower-cased username, for names that exist and names that do
    not alike, so throttling behaves the same either way and a password typed into the
    username field is not kept readable. ``failures`` grows by one per attempt that was
    let through to the password check (taken before Argon2 runs, given back when the
    attempt succeeds); the wait before the next attempt is reckoned from
    ``last_failure_at``, and a row quiet for ``login_failures_forgotten_after_seconds``
    counts as no failures (the hourly purge deletes it).
    """

    __tablename__ = "login_throttle"

    key: str = Field(sa_column=Column(String(64), primary_key=True))
    # Plaintext: when the last counted attempt for this (hashed) name was made; it names
    # no submitter, and a staff member's own sign-in times are in the audit log anyway.
    last_failure_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    failures: int = Field(default=0, sa_column=Column(Integer, nullable=False))
