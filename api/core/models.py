"""Base pieces for every table: naming convention, ids, UTC timestamps, sealed columns.

Plaintext columns must say in a comment why they may stay plaintext (threat model,
"What stays in plaintext, on purpose"). Protected values use the sealed column types,
which hold ciphertext only and never accept a ``str``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, LargeBinary, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlmodel import SQLModel

# Stable constraint names, so migrations are reproducible on SQLite and PostgreSQL alike.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both engines (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        parsed: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)


class Ciphertext(TypeDecorator[bytes]):
    """Raw ciphertext bytes (wrapped keys, sealed blobs). Never a ``str``."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        if value is not None and not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError("Ciphertext columns take bytes produced by crypto/, never text")
        return bytes(value) if value is not None else None

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        return bytes(value) if value is not None else None
