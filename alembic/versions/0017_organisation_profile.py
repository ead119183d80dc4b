"""organisation profile: the submitting organisation printed on referral drafts

One table, ``organisation_profile`` (a single row: name, contact, whether the source asks
for confidentiality); until an admin sets it the drafts list it under ``missing``.
``case_detention`` gets the coarse facts of a trial (``trial_closed``, ``trial_video_link``;
in absentia is 0015's ``special_proceedings``), nullable: existing detentions carry forward as "not recorded". The
rest of a trial and the structured remedies live in the detention's sealed part, which
needs no schema change. Downgrade drops the table and the columns.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from api.core.models import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIAL_COLUMNS = ("trial_closed", "trial_video_link")


def upgrade() -> None:
    op.create_table(
        "organisation_profile",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=500), nullable=False),
        sa.Column("source_confidential", sa.Boolean(), server_default=sa.true(),
                  nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation_profile")),
    )
    with op.batch_alter_table("case_detention", schema=None) as b:
        for column in TRIAL_COLUMNS:
            b.add_column(sa.Column(column, sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_detention", schema=None) as b:
        for column in reversed(TRIAL_COLUMNS):
            b.drop_column(column)
    op.drop_table("organisation_profile")
