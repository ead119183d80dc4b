"""stats: published releases and cells, partner DP policy and budget ledger

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('stats_release',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('min_cell', sa.Integer(), nullable=False),
    sa.Column('first_month', sa.String(length=7), nullable=False),
    sa.Column('last_month', sa.String(length=7), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_release'))
    )
    with op.batch_alter_table('stats_release', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stats_release_created_at'), ['created_at'], unique=False)

    op.create_table('stats_cell',
    sa.Column('release_id', sa.Uuid(), nullable=False),
    sa.Column('table_id', sa.String(length=48), nullable=False),
    sa.Column('coord', sa.String(length=160), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('suppressed', sa.Boolean(), nullable=False),
    sa.Column('primary', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['release_id'], ['stats_release.id'], name=op.f('fk_stats_cell_release_id_stats_release'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('release_id', 'table_id', 'coord', name=op.f('pk_stats_cell'))
    )
    op.create_table('stats_partner_policy',
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('epsilon_per_pull', sa.Float(), nullable=False),
    sa.Column('epsilon_budget', sa.Float(), nullable=False),
    sa.Column('period_started_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_stats_partner_policy_partner_id_partner'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['staff_user.id'], name=op.f('fk_stats_partner_policy_updated_by_id_staff_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('partner_id', name=op.f('pk_stats_partner_policy'))
    )
    op.create_table('stats_budget_entry',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('period_started_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('table_id', sa.String(length=48), nullable=False),
    sa.Column('query_hash', sa.String(length=64), nullable=False),
    sa.Column('release_id', sa.Uuid(), nullable=True),
    sa.Column('epsilon', sa.Float(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_stats_budget_entry_partner_id_partner'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['release_id'], ['stats_release.id'], name=op.f('fk_stats_budget_entry_release_id_stats_release'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stats_budget_entry'))
    )
    with op.batch_alter_table('stats_budget_entry', schema=None) as batch_op:
        batch_op.create_index('ix_stats_budget_entry_lookup', ['partner_id', 'period_started_at', 'query_hash'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stats_budget_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_stats_budget_entry_lookup')
    op.drop_table('stats_budget_entry')
    op.drop_table('stats_partner_policy')
    op.drop_table('stats_cell')
    with op.batch_alter_table('stats_release', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stats_release_created_at'))
    op.drop_table('stats_release')
