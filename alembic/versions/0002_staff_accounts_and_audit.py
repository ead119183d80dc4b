"""staff accounts and audit

Staff users, their sessions and login throttling; the hash-chained audit log with its
chain head and checkpoints; partner organisations and their API keys.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_user',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('sealed_private_key', api.core.models.Ciphertext(), nullable=False),
    sa.Column('on_intake_duty', sa.Boolean(), nullable=False),
    sa.Column('disabled_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('totp_secret', api.core.models.Ciphertext(), nullable=True),
    sa.Column('totp_last_step', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('password_changed_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_user')),
    sa.UniqueConstraint('username', name=op.f('uq_staff_user_username'))
    )
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_user_role'), ['role'], unique=False)

    op.create_table('staff_session',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('session_key', api.core.models.Ciphertext(), nullable=True),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['staff_user.id'], name=op.f('fk_staff_session_user_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_staff_session_token_hash'))
    )
    with op.batch_alter_table('staff_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_session_user_id'), ['user_id'], unique=False)

    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('window_started_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )

    op.create_table('audit_log',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=48), nullable=False),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('case_id', sa.Uuid(), nullable=True),
    sa.Column('target', sa.String(length=128), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    sa.UniqueConstraint('seq', name=op.f('uq_audit_log_seq'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_created_at'), ['created_at'], unique=False)

    op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head'))
    )

    op.create_table('audit_checkpoint',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoint'))
    )
    with op.batch_alter_table('audit_checkpoint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_checkpoint_seq'), ['seq'], unique=False)

    op.create_table('partner',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner')),
    sa.UniqueConstraint('name', name=op.f('uq_partner_name'))
    )

    op.create_table('partner_api_key',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('scopes', sa.String(length=256), nullable=False),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partner.id'], name=op.f('fk_partner_api_key_partner_id_partner'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partner_api_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_partner_api_key_key_hash'))
    )
    with op.batch_alter_table('partner_api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_api_key_partner_id'), ['partner_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('partner_api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_api_key_partner_id'))
    op.drop_table('partner_api_key')
    op.drop_table('partner')
    with op.batch_alter_table('audit_checkpoint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_checkpoint_seq'))
    op.drop_table('audit_checkpoint')
    op.drop_table('audit_chain_head')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_created_at'))
        batch_op.drop_index(batch_op.f('ix_audit_log_case_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_actor_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))
    op.drop_table('audit_log')
    op.drop_table('login_throttle')
    with op.batch_alter_table('staff_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_session_user_id'))
    op.drop_table('staff_session')
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_user_role'))

    op.drop_table('staff_user')
