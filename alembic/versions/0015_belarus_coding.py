"""Belarus coding: administrative penalties, named facilities, list designations, political
prisoners, country of residence

* ``case_person``: ``residence_country`` (ISO 3166-1 alpha-2), ``political_prisoner_month``
  and ``political_prisoner_recognised_by`` (a political_prisoner_recogniser code).
* ``case_act``: ``facility`` (a facility code: TsIP Akrestsina, prison No. 8, IK-2...).
* ``case_detention``: ``admin_arrest_days``, ``fine_band`` (a fine_band code),
  ``special_proceedings`` (tried in absentia) and ``verdict_month`` (YYYY-MM).
* ``case_designation`` (new): a person's listings as "extremist" or "terrorist", by month.

All are plaintext coarse codes (threat model, "What stays in plaintext"); none names anyone.
Existing rows are carried forward with the new columns NULL: nothing recorded before this
revision said any of it in coded form (a facility typed as free text stays in the sealed
part; a migration holds no case key to read it, and a caseworker codes it). Downgrade drops
the columns and the table, and with them whatever was coded in them.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_person", schema=None) as b:
        b.add_column(sa.Column("residence_country", sa.String(length=2), nullable=True))
        b.add_column(sa.Column("political_prisoner_month", sa.String(length=7), nullable=True))
        b.add_column(sa.Column("political_prisoner_recognised_by", sa.String(length=32),
                               nullable=True))
    with op.batch_alter_table("case_act", schema=None) as b:
        b.add_column(sa.Column("facility", sa.String(length=40), nullable=True))
    with op.batch_alter_table("case_detention", schema=None) as b:
        b.add_column(sa.Column("admin_arrest_days", sa.SmallInteger(), nullable=True))
        b.add_column(sa.Column("fine_band", sa.String(length=16), nullable=True))
        b.add_column(sa.Column("special_proceedings", sa.Boolean(), nullable=True))
        b.add_column(sa.Column("verdict_month", sa.String(length=7), nullable=True))
    op.create_table(
        "case_designation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("list_type", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_case_designation_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["case_person.id"],
                                name=op.f("fk_case_designation_person_id_case_person"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_designation")),
    )
    with op.batch_alter_table("case_designation", schema=None) as b:
        b.create_index(b.f("ix_case_designation_case_id"), ["case_id"], unique=False)
        b.create_index(b.f("ix_case_designation_person_id"), ["person_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_designation", schema=None) as b:
        b.drop_index(b.f("ix_case_designation_person_id"))
        b.drop_index(b.f("ix_case_designation_case_id"))
    op.drop_table("case_designation")
    with op.batch_alter_table("case_detention", schema=None) as b:
        b.drop_column("verdict_month")
        b.drop_column("special_proceedings")
        b.drop_column("fine_band")
        b.drop_column("admin_arrest_days")
    with op.batch_alter_table("case_act", schema=None) as b:
        b.drop_column("facility")
    with op.batch_alter_table("case_person", schema=None) as b:
        b.drop_column("political_prisoner_recognised_by")
        b.drop_column("political_prisoner_month")
        b.drop_column("residence_country")
