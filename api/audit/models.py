"""The audit log tables. See api/audit/chain.py for the hash format.

Nothing here holds content: actions, ids, counts and field names only. ``case_id`` has no
foreign key on purpose: the record of who read a case must outlive the case's shredding.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, Integer, String, Text, Uuid
from sqlmodel import Field, SQLModel

from api.core.models import UTCDateTime, new_id, utcnow


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # 1, 2, 3, ... without gaps: a missing number is a deleted entry. Null (and so are the
    # two hashes) from the append until the chainer numbers the entry, moments later
    # (api/audit/service.py); verification reports an entry left unchained too long.
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, unique=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    # Plaintext: one of api.audit.actions (e.g. "case.read").
    action: str = Field(sa_column=Column(String(48), nullable=False, index=True))
    # Plaintext: "staff", "partner", "cli", "system" or "anonymous".
    actor_kind: str = Field(sa_column=Column(String(16), nullable=False))
    actor_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, index=True))
    case_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, index=True))
    # Plaintext: an id or a username the action was about; never content.
    target: str | None = Field(default=None, sa_column=Column(String(128)))
    # Canonical JSON object of ids, counts and field names (never content).
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    prev_hash: str | None = Field(default=None, sa_column=Column(String(64)))
    entry_hash: str | None = Field(default=None, sa_column=Column(String(64)))


class AuditChainHead(SQLModel, table=True):
    """One row (id 1): the last sequence number and hash. Only the chainer locks it (one
    chainer at a time; requests never wait for it), and a removed tail no longer matches it."""

    __tablename__ = "audit_chain_head"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    entry_hash: str = Field(sa_column=Column(String(64), nullable=False))


class AuditCheckpoint(SQLModel, table=True):
    """A recorded (seq, hash) of the chain head at some moment. Whoever holds the database
    can delete these too: the copies that count are shipped off the server
    (api/audit/shipping.py)."""

    __tablename__ = "audit_checkpoint"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    entry_hash: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


class AuditShipment(SQLModel, table=True):
    """A checkpoint that left the server: which target took it, and when.

    Only the worker reads this, to ship again once the head moves. A forger who edits it
    changes nothing that matters: verification reads the shipped copies, not this table.
    """

    __tablename__ = "audit_shipment"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Plaintext: "s3" or "mail" (the configured target, no address or bucket name).
    target: str = Field(sa_column=Column(String(8), nullable=False, index=True))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    entry_hash: str = Field(sa_column=Column(String(64), nullable=False))
    shipped_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
