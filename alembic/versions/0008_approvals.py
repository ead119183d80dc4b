"""approvals: pending two-person changes, and which accounts are approved readers

Existing active accounts are carried forward as approved readers (they were trusted to
read before the rule existed, and their wraps and intake-duty flags stay as they are);
disabled accounts are not, so re-enabling one needs a coordinator's approval before it
can receive a new case key.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reader_approved_on', sa.Date(), nullable=True))
    staff = sa.table('staff_user', sa.column('reader_approved_on', sa.Date()),
                     sa.column('disabled_at'))
    op.execute(staff.update().where(staff.c.disabled_at.is_(None))
               .values(reader_approved_on=datetime.now(UTC).date()))

    op.create_table('pending_change',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('target_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=True),
    sa.Column('thread_id', sa.Uuid(), nullable=True),
    sa.Column('requested_by_id', sa.Uuid(), nullable=True),
    sa.Column('requested_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', sa.Uuid(), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_pending_change_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['thread_id'], ['submission.id'], name=op.f('fk_pending_change_thread_id_submission'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['staff_user.id'], name=op.f('fk_pending_change_decided_by_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['staff_user.id'], name=op.f('fk_pending_change_requested_by_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['target_id'], ['staff_user.id'], name=op.f('fk_pending_change_target_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_change'))
    )
    with op.batch_alter_table('pending_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_change_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pending_change_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_pending_change_target_id'), ['target_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pending_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_change_target_id'))
        batch_op.drop_index(batch_op.f('ix_pending_change_status'))
        batch_op.drop_index(batch_op.f('ix_pending_change_case_id'))
    op.drop_table('pending_change')
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_column('reader_approved_on')
