"""audit: a record of checkpoints shipped off the server (S3 Object Lock, mail)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new table only: existing rows elsewhere are untouched. Nothing was shipped before
    # this revision, so it starts empty and the first worker run ships the current head.
    op.create_table('audit_shipment',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('target', sa.String(length=8), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('shipped_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_shipment'))
    )
    with op.batch_alter_table('audit_shipment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_shipment_target'), ['target'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_shipment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_shipment_target'))
    op.drop_table('audit_shipment')
