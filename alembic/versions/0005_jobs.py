"""jobs

The transactional job queue and staff notification subscriptions.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('run_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_by', sa.String(length=128), nullable=True),
    sa.Column('lease_until', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=128), nullable=True),
    sa.Column('dedupe_key', sa.String(length=160), nullable=True),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_job_dedupe_key'))
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index('ix_job_status_run_at', ['status', 'run_at'], unique=False)

    op.create_table('notification_subscription',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('staff_user_id', sa.Uuid(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('digest_interval_minutes', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('last_digest_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_user_id'], ['staff_user.id'], name=op.f('fk_notification_subscription_staff_user_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_subscription')),
    sa.UniqueConstraint('staff_user_id', name=op.f('uq_notification_subscription_staff_user_id'))
    )


def downgrade() -> None:
    op.drop_table('notification_subscription')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_status_run_at')
    op.drop_table('job')
