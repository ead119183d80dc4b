"""Base pieces for every table: naming convention, ids, UTC timestamps, sealed columns.

Plaintext columns must say in a comment why they may stay plaintext (threat model,
"What stays in plaintext, on purpose"). Protected values use the sealed column types,
which hold ciphertext only and never accept a ``str``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
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


def day_floor(moment: datetime) -> datetime:
    """00:00 UTC of the day ``moment`` falls on."""
    return datetime.combine(moment.astimezone(UTC).date(), time(), UTC)


def day_ceil(moment: datetime) -> datetime:
    """The first 00:00 UTC at or after ``moment``: expiries round up, never down."""
    floor = day_floor(moment)
    return floor if floor == moment else floor + timedelta(days=1)


def utctoday() -> datetime:
    """Now, at day precision: the default of every submitter-linked time column."""
    return day_floor(utcnow())


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


class UTCDay(UTCDateTime):
    """A UTC time stored at day precision: every value is cut to 00:00 UTC on its way in.

    For plaintext times tied to a submitter (threat model property 13): a seized database
    lined up against an ISP's record of who reached Tor when must not point at a person,
    so these columns never hold an hour, whoever writes them. Writers should still pass
    day-precision values (``utctoday``, ``day_floor``, ``day_ceil``) so the object in
    memory matches the row. Note that comparison values bound against such a column are
    cut the same way.
    """

    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        bound = super().process_bind_param(value, dialect)
        return None if bound is None else day_floor(bound)


def number_within_case(model: type[Any]) -> None:
    """Give every new row of ``model`` without a ``seq`` the next number of its case.

    Rows tied to a submitter are ordered by ``seq`` since their times are days only. The
    services number rows themselves (inside the case's lock); this listener is the
    backstop for any other writer, so a row can never sort before older ones.
    """
    from sqlalchemy import event, func, select

    @event.listens_for(model, "before_insert")
    def _next_seq(_mapper: object, connection: Any, row: Any) -> None:
        if row.seq:
            return
        table = model.__table__
        latest = connection.execute(
            select(func.max(table.c.seq)).where(table.c.case_id == row.case_id)
        ).scalar()
        row.seq = int(latest or 0) + 1


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
