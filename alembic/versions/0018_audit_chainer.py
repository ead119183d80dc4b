"""audit chainer: entries are appended unchained and numbered and hashed afterwards

``audit_log.seq``, ``prev_hash`` and ``entry_hash`` become nullable: a request's
transaction now writes its entries without them (and so without taking the chain head),
and one chainer at a time fills them in shortly after the commit (api/audit/service.py).

Existing rows are all chained already and keep their numbers and hashes; the head row is
unchanged. Downgrade cannot chain in SQL (the hash is computed in Python), so it refuses
while unchained rows exist: let a running API process or worker chain them (within
seconds; the worker's audit_chain job runs every minute) and downgrade again.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("seq", sa.BigInteger()), ("prev_hash", sa.String(length=64)),
           ("entry_hash", sa.String(length=64)))


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as b:
        for name, type_ in COLUMNS:
            b.alter_column(name, existing_type=type_, nullable=True)



def downgrade() -> None:
    unchained = op.get_bind().execute(
        sa.text("SELECT count(*) FROM audit_log WHERE seq IS NULL")).scalar()
    if unchained:
        raise RuntimeError(f"{unchained} audit entries are not chained yet: let a "
                           "running API process or worker chain them (the worker's "
                           "audit_chain job runs every minute), then downgrade again")
    with op.batch_alter_table("audit_log", schema=None) as b:
        for name, type_ in COLUMNS:
            b.alter_column(name, existing_type=type_, nullable=False)
