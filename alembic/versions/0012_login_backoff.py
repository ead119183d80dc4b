"""login_throttle: growing delays instead of a fixed one-hour window

Sign-in failures no longer lock a username for an hour from the first failure; each
attempt past a free allowance waits a delay that doubles per failure and is reckoned from
the last one (api/auth/throttle.py). The column ``window_started_at`` becomes
``last_failure_at``. Existing rows keep their count, and their window start stands in for
the last failure: it is never later than the real one, so no wait grows by the upgrade.

Downgrade renames the column back; the counts then throttle by the old one-hour window.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.alter_column("window_started_at", new_column_name="last_failure_at")


def downgrade() -> None:
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.alter_column("last_failure_at", new_column_name="window_started_at")
