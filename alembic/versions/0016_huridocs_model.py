"""HURIDOCS model completed (issue 17, items 3 and 5)

New tables: ``case_information`` (source person -> act, with source connection,
reliability and material type), ``case_relationship`` (person -> person, list 21),
``case_witness`` (persons who witnessed an act), ``case_torture_method`` (duration and
frequency per method, Istanbul Protocol) and ``case_evidence`` (attachments documenting an
act or an injury). New nullable columns: ``case_act.preceding_act_id`` and ``chain_link``
(chains of events), ``case_involvement.person_id`` (the perpetrator as a person),
``case_person.perpetrator_type`` and ``perpetrator_ref`` (a perpetrator followed across
cases), ``case_torture.examiner_qualification``.

Existing rows are carried forward unchanged: every new column is nullable and NULL means
what the row meant before (no chain, an involvement without a person record, a torture
detail without an examiner's qualification); the new tables start empty. Downgrade drops
the tables and columns (what they held is lost; the rows they annotate stay).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.models

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('case_information',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('source_person_id', sa.Uuid(), nullable=True),
    sa.Column('act_id', sa.Uuid(), nullable=True),
    sa.Column('source_connection', sa.String(length=32), nullable=True),
    sa.Column('reliability', sa.String(length=16), nullable=True),
    sa.Column('material_type', sa.String(length=32), nullable=True),
    sa.Column('sealed', api.core.models.Ciphertext(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_information_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_person_id'], ['case_person.id'], name=op.f('fk_case_information_source_person_id_case_person'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_information'))
    )
    with op.batch_alter_table('case_information', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_information_act_id'), ['act_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_information_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_information_source_person_id'), ['source_person_id'], unique=False)

    op.create_table('case_relationship',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('related_person_id', sa.Uuid(), nullable=False),
    sa.Column('relationship_type', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_relationship_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['case_person.id'], name=op.f('fk_case_relationship_person_id_case_person'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['related_person_id'], ['case_person.id'], name=op.f('fk_case_relationship_related_person_id_case_person'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_relationship'))
    )
    with op.batch_alter_table('case_relationship', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_relationship_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_relationship_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_relationship_related_person_id'), ['related_person_id'], unique=False)

    op.create_table('case_evidence',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('act_id', sa.Uuid(), nullable=False),
    sa.Column('attachment_id', sa.Uuid(), nullable=False),
    sa.Column('body_area', sa.String(length=32), nullable=True),
    sa.Column('sealed', api.core.models.Ciphertext(), nullable=False),
    sa.ForeignKeyConstraint(['act_id'], ['case_act.id'], name=op.f('fk_case_evidence_act_id_case_act'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachment.id'], name=op.f('fk_case_evidence_attachment_id_attachment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_evidence_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_evidence'))
    )
    with op.batch_alter_table('case_evidence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_evidence_act_id'), ['act_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_evidence_attachment_id'), ['attachment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_evidence_case_id'), ['case_id'], unique=False)

    op.create_table('case_torture_method',
    sa.Column('act_id', sa.Uuid(), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('duration', sa.String(length=16), nullable=True),
    sa.Column('frequency', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['act_id'], ['case_act.id'], name=op.f('fk_case_torture_method_act_id_case_act'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_torture_method_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('act_id', 'method', name=op.f('pk_case_torture_method'))
    )
    with op.batch_alter_table('case_torture_method', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_torture_method_case_id'), ['case_id'], unique=False)

    op.create_table('case_witness',
    sa.Column('act_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['act_id'], ['case_act.id'], name=op.f('fk_case_witness_act_id_case_act'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_witness_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['case_person.id'], name=op.f('fk_case_witness_person_id_case_person'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('act_id', 'person_id', name=op.f('pk_case_witness'))
    )
    with op.batch_alter_table('case_witness', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_witness_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_witness_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('case_act', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preceding_act_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('chain_link', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_act_preceding_act_id'), ['preceding_act_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_case_act_preceding_act_id_case_act'), 'case_act', ['preceding_act_id'], ['id'])

    with op.batch_alter_table('case_involvement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_involvement_person_id'), ['person_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_case_involvement_person_id_case_person'), 'case_person', ['person_id'], ['id'], ondelete='RESTRICT')

    with op.batch_alter_table('case_person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('perpetrator_type', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('perpetrator_ref', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_person_perpetrator_ref'), ['perpetrator_ref'], unique=False)

    with op.batch_alter_table('case_torture', schema=None) as batch_op:
        batch_op.add_column(sa.Column('examiner_qualification', sa.String(length=32), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('case_torture', schema=None) as batch_op:
        batch_op.drop_column('examiner_qualification')

    with op.batch_alter_table('case_person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_person_perpetrator_ref'))
        batch_op.drop_column('perpetrator_ref')
        batch_op.drop_column('perpetrator_type')

    with op.batch_alter_table('case_involvement', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_case_involvement_person_id_case_person'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_case_involvement_person_id'))
        batch_op.drop_column('person_id')

    with op.batch_alter_table('case_act', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_case_act_preceding_act_id_case_act'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_case_act_preceding_act_id'))
        batch_op.drop_column('chain_link')
        batch_op.drop_column('preceding_act_id')

    with op.batch_alter_table('case_witness', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_witness_person_id'))
        batch_op.drop_index(batch_op.f('ix_case_witness_case_id'))

    op.drop_table('case_witness')
    with op.batch_alter_table('case_torture_method', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_torture_method_case_id'))

    op.drop_table('case_torture_method')
    with op.batch_alter_table('case_evidence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_evidence_case_id'))
        batch_op.drop_index(batch_op.f('ix_case_evidence_attachment_id'))
        batch_op.drop_index(batch_op.f('ix_case_evidence_act_id'))

    op.drop_table('case_evidence')
    with op.batch_alter_table('case_relationship', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_relationship_related_person_id'))
        batch_op.drop_index(batch_op.f('ix_case_relationship_person_id'))
        batch_op.drop_index(batch_op.f('ix_case_relationship_case_id'))

    op.drop_table('case_relationship')
    with op.batch_alter_table('case_information', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_information_source_person_id'))
        batch_op.drop_index(batch_op.f('ix_case_information_case_id'))
        batch_op.drop_index(batch_op.f('ix_case_information_act_id'))

    op.drop_table('case_information')
