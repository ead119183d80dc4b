"""uploads: no exact sizes at rest (sealed tus progress, a PATCH counter)

The declared length and received offset of an open tus upload move from plaintext
columns (``upload.length``, ``upload.offset``) into ``upload.sealed_progress``, sealed
under the upload key; segments lose their plaintext ``offset`` and ``size``. PATCHes are
serialised by a compare-and-set on the new plaintext counter ``upload.patch_seq``.

Existing rows: the server never holds an upload key (it is derived from the secret in the
client's URL), so the progress of an upload still *receiving* cannot be sealed here. Those
uploads and their segment rows are deleted; the client's next HEAD or PATCH gets 404 and
a tus client starts the upload again (as it does after expiry, at most
``upload_expiry_hours`` of work lost). Their segment blobs are no longer named by any row
and go with the orphan sweep (``orphan_blob_min_age_hours``). *Complete* uploads waiting
to be attached are kept: their size is already in the sealed metadata, which is where
``HEAD`` reads it once an upload is complete, so they get ``sealed_progress = NULL`` and
stay attachable. Dropping the columns, instead of keeping them nullable for old rows,
means no code path (and no seized copy) ever has an exact size in plaintext again.

Downgrade: the old schema needs the exact sizes in plaintext, which only the clients'
URLs could recover, so every upload row (receiving or complete) is deleted before the
columns come back; their blobs go with the orphan sweep.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.models

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Segments first (SQLite may run this without foreign-key cascades). A complete
    # upload has no segments, so every segment row belongs to a receiving one.
    op.execute("DELETE FROM upload_segment")
    op.execute("DELETE FROM upload WHERE state <> 'complete'")
    with op.batch_alter_table('upload_segment', schema=None) as batch_op:
        batch_op.drop_column('offset')
        batch_op.drop_column('size')
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_progress', api.core.models.Ciphertext(),
                                      nullable=True))
        batch_op.add_column(sa.Column('patch_seq', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.drop_column('length')
        batch_op.drop_column('offset')


def downgrade() -> None:
    op.execute("DELETE FROM upload_segment")
    op.execute("DELETE FROM upload")
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.add_column(sa.Column('length', sa.BigInteger(), nullable=False))
        batch_op.add_column(sa.Column('offset', sa.BigInteger(), nullable=False))
        batch_op.drop_column('patch_seq')
        batch_op.drop_column('sealed_progress')
    with op.batch_alter_table('upload_segment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offset', sa.BigInteger(), nullable=False))
        batch_op.add_column(sa.Column('size', sa.BigInteger(), nullable=False))
