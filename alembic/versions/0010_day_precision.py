"""day precision: submitter-linked plaintext times cut to days; order by sequence numbers

Threat model property 13: a seized database lined up against an ISP's record of who
reached Tor when must not point at a person, so every plaintext time in a row tied to a
submitter is kept at day precision (api.core.models.UTCDay). This migration

* adds ``seq`` to ``case_event`` and ``case_message`` and numbers the existing rows of each
  case in their old time order, since a day no longer orders them;
* adds the notification digest's per-day counters (``digest_day*``), since it can no
  longer count cases "created after" an exact instant;
* cuts the existing values to 00:00 UTC (expiries and locks up to the next 00:00, so
  nothing ends early). Follow-up sessions carry their exact expiry sealed under their
  token from now on; older ones fail to open and simply end (they last minutes).

The downgrade drops the new columns; the exact times cut away are gone for good, which
is the point.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa
from alembic import op

import api.core.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, rounding): every submitter-linked plaintext time of the schema.
FLOOR, CEIL = "floor", "ceil"
DAY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("cases", "created_at", FLOOR),
    ("cases", "updated_at", FLOOR),
    ("cases", "state_changed_at", FLOOR),
    # Floored: the new rule counts a case overdue only after its due day, so a floored
    # old due date is never overdue earlier than before.
    ("cases", "due_at", FLOOR),
    ("cases", "shredded_at", FLOOR),
    ("attachment", "created_at", FLOOR),
    ("receipt", "created_at", FLOOR),
    ("receipt", "locked_until", CEIL),
    ("case_message", "created_at", FLOOR),
    ("case_message", "read_at", FLOOR),
    ("followup_session", "created_at", FLOOR),
    ("followup_session", "expires_at", CEIL),
    ("upload", "created_at", FLOOR),
    ("upload", "expires_at", CEIL),
    ("case_event", "created_at", FLOOR),
    ("case_consent", "recorded_at", FLOOR),
    ("case_consent", "revoked_at", FLOOR),
    ("case_key_wrap", "created_at", FLOOR),
)


def _round(value: datetime, how: str) -> datetime:
    floor = datetime.combine(value.astimezone(UTC).date(), time(), UTC)
    return floor if how == FLOOR or floor == value else floor + timedelta(days=1)


def _cut_to_days(bind: sa.engine.Connection) -> None:
    # In Python, through the same column type the application uses, so both engines'
    # storage formats (PostgreSQL timestamptz, SQLite text) are read and written alike.
    for table_name in sorted({t for t, _, _ in DAY_COLUMNS}):
        columns = [(c, how) for t, c, how in DAY_COLUMNS if t == table_name]
        table = sa.table(table_name, sa.column("id", sa.Uuid()),
                         *(sa.column(c, api.core.models.UTCDateTime()) for c, _ in columns))
        rows = bind.execute(sa.select(table.c.id, *(table.c[c] for c, _ in columns))).all()
        for row in rows:
            changed = {c: _round(old, how) for (c, how), old in zip(columns, row[1:], strict=True)
                       if old is not None and _round(old, how) != old}
            if changed:
                bind.execute(table.update().where(table.c.id == row[0]).values(**changed))


def _number_in_time_order(bind: sa.engine.Connection, table_name: str) -> None:
    table = sa.table(table_name, sa.column("id", sa.Uuid()), sa.column("case_id", sa.Uuid()),
                     sa.column("created_at", api.core.models.UTCDateTime()),
                     sa.column("seq", sa.Integer()))
    rows = bind.execute(sa.select(table.c.id, table.c.case_id)
                        .order_by(table.c.case_id, table.c.created_at, table.c.id)).all()
    counters: dict[object, int] = {}
    for row_id, case_id in rows:
        counters[case_id] = counters.get(case_id, 0) + 1
        bind.execute(table.update().where(table.c.id == row_id)
                     .values(seq=counters[case_id]))


def upgrade() -> None:
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.create_index('ix_case_event_case_seq', ['case_id', 'seq'], unique=False)

    with op.batch_alter_table('case_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.create_index('ix_case_message_case_seq', ['case_id', 'seq'], unique=False)

    with op.batch_alter_table('notification_subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest_day', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('digest_day_new', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('digest_day_urgent', sa.Integer(), server_default='0',
                                      nullable=False))

    bind = op.get_bind()
    # Number first, while the old exact times still give the order.
    _number_in_time_order(bind, "case_event")
    _number_in_time_order(bind, "case_message")
    _cut_to_days(bind)


def downgrade() -> None:
    with op.batch_alter_table('notification_subscription', schema=None) as batch_op:
        batch_op.drop_column('digest_day_urgent')
        batch_op.drop_column('digest_day_new')
        batch_op.drop_column('digest_day')

    with op.batch_alter_table('case_message', schema=None) as batch_op:
        batch_op.drop_index('ix_case_message_case_seq')
        batch_op.drop_column('seq')

    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.drop_index('ix_case_event_case_seq')
        batch_op.drop_column('seq')
