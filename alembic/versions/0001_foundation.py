"""foundation: organisation keys

Revision ID: 0001
Revises: 
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.models

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('organisation_key',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation_key'))
    )
    with op.batch_alter_table('organisation_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisation_key_purpose'), ['purpose'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('organisation_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisation_key_purpose'))

    op.drop_table('organisation_key')
