"""intake replay: a reloaded or replayed report files nothing new

One table, ``intake_replay``: a keyed hash of a web form's token or an API
``Idempotency-Key`` (the primary key, so two concurrent replays cannot both insert), the
case it led to sealed under a key derived from that key, and a day-precision expiry after
which the worker's ``purge_intake_replays`` deletes the row. Nothing existing changes;
downgrade drops the table.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.core.models import Ciphertext, UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "intake_replay",
        sa.Column("lookup", sa.String(length=64), nullable=False),
        sa.Column("sealed", Ciphertext(), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lookup", name=op.f("pk_intake_replay")),
    )
    op.create_index(op.f("ix_intake_replay_expires_at"), "intake_replay", ["expires_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_intake_replay_expires_at"), table_name="intake_replay")
    op.drop_table("intake_replay")
