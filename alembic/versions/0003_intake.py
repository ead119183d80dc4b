"""intake: cases, key wraps, submissions, attachments, receipts, messages

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cases',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('urgency_reasons', sa.String(length=128), nullable=False),
    sa.Column('region', sa.String(length=16), nullable=True),
    sa.Column('period_start_month', sa.String(length=7), nullable=True),
    sa.Column('date_precision', sa.String(length=24), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('assignee_id', sa.Uuid(), nullable=True),
    sa.Column('merged_into_id', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state_changed_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('shredded_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assignee_id'], ['staff_user.id'], name=op.f('fk_cases_assignee_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['cases.id'], name=op.f('fk_cases_merged_into_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('reference', name=op.f('uq_cases_reference'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_merged_into_id'), ['merged_into_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_received_on'), ['received_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_region'), ['region'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_urgent'), ['urgent'], unique=False)

    op.create_table('case_key_wrap',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('recipient_kind', sa.String(length=16), nullable=False),
    sa.Column('recipient_id', sa.Uuid(), nullable=False),
    sa.Column('wrapped_key', api.core.models.Ciphertext(), nullable=False),
    sa.Column('granted_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_key_wrap_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_key_wrap')),
    sa.UniqueConstraint('case_id', 'recipient_kind', 'recipient_id', name='uq_case_key_wrap_recipient')
    )
    with op.batch_alter_table('case_key_wrap', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_key_wrap_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_key_wrap_recipient_id'), ['recipient_id'], unique=False)

    op.create_table('case_message',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=True),
    sa.Column('body', api.core.models.Ciphertext(), nullable=False),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['staff_user.id'], name=op.f('fk_case_message_author_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_message_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_message'))
    )
    with op.batch_alter_table('case_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_message_case_id'), ['case_id'], unique=False)

    op.create_table('receipt',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('lookup', sa.String(length=16), nullable=False),
    sa.Column('verifier', api.core.models.Ciphertext(), nullable=False),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_receipt_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_receipt')),
    sa.UniqueConstraint('lookup', name=op.f('uq_receipt_lookup'))
    )
    with op.batch_alter_table('receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_receipt_case_id'), ['case_id'], unique=False)

    op.create_table('submission',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('submitter_role', sa.String(length=16), nullable=False),
    sa.Column('categories', sa.String(length=128), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('consent_scopes', sa.String(length=512), nullable=False),
    sa.Column('is_followup', sa.Boolean(), nullable=False),
    sa.Column('lawyer_id', sa.Uuid(), nullable=True),
    sa.Column('payload', api.core.models.Ciphertext(), nullable=False),
    sa.Column('schema_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_submission_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lawyer_id'], ['staff_user.id'], name=op.f('fk_submission_lawyer_id_staff_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission'))
    )
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_submission_lawyer_id'), ['lawyer_id'], unique=False)

    op.create_table('attachment',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('submission_id', sa.Uuid(), nullable=True),
    sa.Column('blob_name', sa.String(length=128), nullable=False),
    sa.Column('wrapped_file_key', api.core.models.Ciphertext(), nullable=False),
    sa.Column('sealed_metadata', api.core.models.Ciphertext(), nullable=False),
    sa.Column('ciphertext_size', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('derived_from_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_attachment_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['derived_from_id'], ['attachment.id'], name=op.f('fk_attachment_derived_from_id_attachment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], name=op.f('fk_attachment_submission_id_submission'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachment')),
    sa.UniqueConstraint('blob_name', name=op.f('uq_attachment_blob_name'))
    )
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachment_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachment_submission_id'), ['submission_id'], unique=False)

    # ---- intake feature: tus uploads and follow-up sessions ----
    op.create_table('upload',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('secret_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('length', sa.BigInteger(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('sealed_metadata', api.core.models.Ciphertext(), nullable=False),
    sa.Column('final_blob_name', sa.String(length=128), nullable=True),
    sa.Column('final_wrapped_key', api.core.models.Ciphertext(), nullable=True),
    sa.Column('final_ciphertext_size', sa.BigInteger(), nullable=True),
    sa.Column('expires_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upload')),
    sa.UniqueConstraint('final_blob_name', name=op.f('uq_upload_final_blob_name')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_upload_secret_hash'))
    )
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upload_expires_at'), ['expires_at'], unique=False)

    op.create_table('upload_segment',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('upload_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('blob_name', sa.String(length=128), nullable=False),
    sa.Column('wrapped_key', api.core.models.Ciphertext(), nullable=False),
    sa.Column('ciphertext_size', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['upload_id'], ['upload.id'], name=op.f('fk_upload_segment_upload_id_upload'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upload_segment')),
    sa.UniqueConstraint('blob_name', name=op.f('uq_upload_segment_blob_name')),
    sa.UniqueConstraint('upload_id', 'seq', name='uq_upload_segment_seq')
    )
    with op.batch_alter_table('upload_segment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_upload_segment_upload_id'), ['upload_id'], unique=False)

    op.create_table('followup_session',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('receipt_id', sa.Uuid(), nullable=False),
    sa.Column('sealed_case_key', api.core.models.Ciphertext(), nullable=False),
    sa.Column('expires_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_followup_session_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['receipt_id'], ['receipt.id'], name=op.f('fk_followup_session_receipt_id_receipt'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_followup_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_followup_session_token_hash'))
    )
    with op.batch_alter_table('followup_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_followup_session_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_followup_session_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('followup_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_followup_session_expires_at'))
        batch_op.drop_index(batch_op.f('ix_followup_session_case_id'))

    op.drop_table('followup_session')
    with op.batch_alter_table('upload_segment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_segment_upload_id'))

    op.drop_table('upload_segment')
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_expires_at'))

    op.drop_table('upload')
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachment_submission_id'))
        batch_op.drop_index(batch_op.f('ix_attachment_case_id'))

    op.drop_table('attachment')
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_lawyer_id'))
        batch_op.drop_index(batch_op.f('ix_submission_case_id'))

    op.drop_table('submission')
    with op.batch_alter_table('receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_receipt_case_id'))

    op.drop_table('receipt')
    with op.batch_alter_table('case_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_message_case_id'))

    op.drop_table('case_message')
    with op.batch_alter_table('case_key_wrap', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_key_wrap_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_case_key_wrap_case_id'))

    op.drop_table('case_key_wrap')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_urgent'))
        batch_op.drop_index(batch_op.f('ix_cases_state'))
        batch_op.drop_index(batch_op.f('ix_cases_region'))
        batch_op.drop_index(batch_op.f('ix_cases_received_on'))
        batch_op.drop_index(batch_op.f('ix_cases_merged_into_id'))
        batch_op.drop_index(batch_op.f('ix_cases_assignee_id'))

    op.drop_table('cases')
