"""thread answered: the day staff answered a submitter's message

``case_message.answered_at`` (nullable, day precision): set on a submitter's messages when
staff reply in the thread or mark it answered; NULL while the message waits for staff.
Messages already followed by a staff reply in their thread are marked answered on the day
of that reply. Downgrade drops the column.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.core.models import UTCDay

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_message") as batch:
        batch.add_column(sa.Column("answered_at", UTCDay(timezone=True), nullable=True))
    # A thread's messages are ordered by seq (merges and splits keep it growing).
    op.execute(
        "UPDATE case_message SET answered_at = ("
        " SELECT MIN(reply.created_at) FROM case_message AS reply"
        " WHERE reply.submission_id = case_message.submission_id"
        " AND reply.direction = 'to_submitter' AND reply.seq > case_message.seq)"
        " WHERE direction = 'from_submitter' AND answered_at IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("case_message") as batch:
        batch.drop_column("answered_at")
