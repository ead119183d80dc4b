"""intake statements: provenance of case metadata rows, consent given on someone's behalf

``case_person``, ``case_act`` and ``case_consent`` get ``source`` ("intake": what a
submitter stated in a report, not yet confirmed by staff; "staff": what a caseworker wrote
or confirmed) and ``source_submission_id`` (the report it came from). ``case_consent`` also
gets ``on_behalf`` (a relative or lawyer consented at intake for the person).

Existing rows are carried forward as staff rows, not on anyone's behalf: before this
revision only staff wrote metadata and consents. Cases received earlier have no intake
statements (their reports are sealed; a migration holds no case key to read them).
Downgrade drops the columns; the rows themselves stay, as staff rows.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("case_person", "case_act", "case_consent")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as b:
            b.add_column(sa.Column("source", sa.String(length=8), nullable=False,
                                   server_default="staff"))
            b.add_column(sa.Column("source_submission_id", sa.Uuid(), nullable=True))
            b.create_index(b.f(f"ix_{table}_source_submission_id"), ["source_submission_id"],
                           unique=False)
            b.create_foreign_key(b.f(f"fk_{table}_source_submission_id_submission"),
                                 "submission", ["source_submission_id"], ["id"],
                                 ondelete="SET NULL")
            if table == "case_consent":
                b.add_column(sa.Column("on_behalf", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as b:
            if table == "case_consent":
                b.drop_column("on_behalf")
            b.drop_constraint(b.f(f"fk_{table}_source_submission_id_submission"),
                              type_="foreignkey")
            b.drop_index(b.f(f"ix_{table}_source_submission_id"))
            b.drop_column("source_submission_id")
            b.drop_column("source")
