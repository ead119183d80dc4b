"""Staff accounts (admin, coordinator, caseworker, lawyer) and their key material.

The staff private key is stored only sealed under Argon2id(password) with its own salt
and parameters (threat model property 3); the login hash is a separate Argon2id hash.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Column, LargeBinary, String
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
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
