"""files in parts: a finished tus upload is kept as the PATCHes it arrived in

Finishing an upload used to decrypt every segment and re-encrypt the whole file into one
blob (a second pass and a second copy on disk). Now each PATCH's stream file is a *part*
(``file_part``), sealed under the upload's file key, and a claimed upload's parts move to
its attachment; ``attachment.blob_name`` is NULL for such a file.

Existing rows: attachments keep their single blob. Uploads still *receiving* cannot be
converted (their segment keys are wrapped under an upload key only the client's URL
yields), so, as in 0011, they and their segments are deleted; the client's next request
gets 404 and a tus client starts again. Their blobs go with the orphan sweep. *Complete*
uploads keep their merged blob (``upload.final_blob_name``) and stay attachable.

Downgrade: refused while any attachment is stored in parts (joining them needs keys the
server does not hold); receiving uploads are deleted again.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.models

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM upload_segment")
    op.execute("DELETE FROM upload WHERE state <> 'complete'")
    with op.batch_alter_table('upload_segment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_segment_upload_id'))
    op.drop_table('upload_segment')
    op.create_table('file_part',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('upload_id', sa.Uuid(), nullable=True),
    sa.Column('attachment_id', sa.Uuid(), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('blob_name', sa.String(length=128), nullable=False),
    sa.Column('sealed_part', api.core.models.Ciphertext(), nullable=False),
    sa.Column('ciphertext_size', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachment.id'], name=op.f('fk_file_part_attachment_id_attachment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['upload_id'], ['upload.id'], name=op.f('fk_file_part_upload_id_upload'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_file_part')),
    sa.UniqueConstraint('attachment_id', 'seq', name='uq_file_part_attachment_seq'),
    sa.UniqueConstraint('blob_name', name=op.f('uq_file_part_blob_name')),
    sa.UniqueConstraint('upload_id', 'seq', name='uq_file_part_upload_seq')
    )
    with op.batch_alter_table('file_part', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_file_part_attachment_id'), ['attachment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_file_part_upload_id'), ['upload_id'], unique=False)
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.alter_column('blob_name', existing_type=sa.String(length=128), nullable=True)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM attachment WHERE blob_name IS NULL")).first():
        raise RuntimeError("attachments are stored in parts; they cannot be joined without "
                           "their keys, so this database cannot go below revision 0013")
    op.execute("DELETE FROM file_part")
    op.execute("DELETE FROM upload WHERE state <> 'complete'")
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.alter_column('blob_name', existing_type=sa.String(length=128), nullable=False)
    with op.batch_alter_table('file_part', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_file_part_upload_id'))
        batch_op.drop_index(batch_op.f('ix_file_part_attachment_id'))
    op.drop_table('file_part')
    op.create_table('upload_segment',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('upload_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
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
