"""Tables of partner statistics: published releases, their cells, DP policy and ledger.

Nothing here is testimony. A release holds the counts of the catalogue tables computed from
the coarse plaintext coding (which the threat model already keeps in plaintext), so storing
them adds nothing a seized database would not already show; what partners may *see* of a
release is decided by the ``suppressed`` flag of each cell.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, Integer, String, Text, Uuid
from sqlmodel import Field, SQLModel

from api.core.models import UTCDateTime, new_id, utcnow


class StatsRelease(SQLModel, table=True):
    """One refresh: every catalogue table counted and protected at the same moment."""

    __tablename__ = "stats_release"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )
    # Plaintext: the suppression threshold and month grid the release was built with.
    min_cell: int = Field(sa_column=Column(Integer, nullable=False))
    first_month: str = Field(sa_column=Column(String(7), nullable=False))
    last_month: str = Field(sa_column=Column(String(7), nullable=False))


class StatsCell(SQLModel, table=True):
    """One cell (interior or margin) of one catalogue table in one release."""

    __tablename__ = "stats_cell"

    release_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("stats_release.id", ondelete="CASCADE"), primary_key=True
        )
    )
    # Plaintext: catalogue table id and the cell's coordinates, "code|code|code" with "*"
    # for a total: vocabulary codes and months only.
    table_id: str = Field(sa_column=Column(String(48), primary_key=True))
    coord: str = Field(sa_column=Column(String(160), primary_key=True))
    # Plaintext: the exact count (kept so DP pulls can add noise to it) and whether
    # partners may see it.
    count: int = Field(sa_column=Column(Integer, nullable=False))
    suppressed: bool = Field(sa_column=Column(Boolean, nullable=False))
    primary: bool = Field(sa_column=Column(Boolean, nullable=False))


class StatsPartnerPolicy(SQLModel, table=True):
    """How one partner organisation receives statistics (set by an admin)."""

    __tablename__ = "stats_partner_policy"

    partner_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("partner.id", ondelete="CASCADE"), primary_key=True)
    )
    # "suppressed" (exact counts, small cells hidden) or "dp" (noisy counts, budgeted).
    mode: str = Field(default="suppressed", sa_column=Column(String(16), nullable=False))
    epsilon_per_pull: float = Field(sa_column=Column(Float, nullable=False))
    epsilon_budget: float = Field(sa_column=Column(Float, nullable=False))
    # The budget counts pulls since this moment; an admin starting a new period is audited.
    period_started_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
    updated_by_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("staff_user.id", ondelete="SET NULL")),
    )


class StatsBudgetEntry(SQLModel, table=True):
    """One DP pull charged to a partner: the ledger, and the cached noisy answer."""

    __tablename__ = "stats_budget_entry"
    __table_args__ = (
        Index("ix_stats_budget_entry_lookup", "partner_id", "period_started_at", "query_hash"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    partner_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("partner.id", ondelete="CASCADE"), nullable=False)
    )
    period_started_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    table_id: str = Field(sa_column=Column(String(48), nullable=False))
    # SHA-256 of the canonical query (table, release, dimensions, filters): identical
    # repeated pulls get the same noisy answer instead of fresh noise to average.
    query_hash: str = Field(sa_column=Column(String(64), nullable=False))
    release_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("stats_release.id", ondelete="SET NULL")),
    )
    epsilon: float = Field(sa_column=Column(Float, nullable=False))
    # Plaintext JSON: the noisy counts released (what the partner already holds).
    answer: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
