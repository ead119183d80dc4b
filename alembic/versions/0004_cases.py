"""cases: structured case metadata, workflow events, merge/split links, list indexes

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import api.core.models
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('case_code',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('subject_id', sa.Uuid(), nullable=False),
    sa.Column('vocab', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_code_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_code'))
    )
    with op.batch_alter_table('case_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_code_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_code_subject_id'), ['subject_id'], unique=False)
        batch_op.create_index('ix_case_code_vocab_code', ['vocab', 'code'], unique=False)

    op.create_table('case_event',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('from_state', sa.String(length=24), nullable=True),
    sa.Column('to_state', sa.String(length=24), nullable=True),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('sealed_comment', api.core.models.Ciphertext(), nullable=True),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['staff_user.id'], name=op.f('fk_case_event_actor_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_event_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_event'))
    )
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.create_index('ix_case_event_case_created', ['case_id', 'created_at'], unique=False)

    op.create_table('case_intervention',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('intervention_type', sa.String(length=32), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('sealed', api.core.models.Ciphertext(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_intervention_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_intervention'))
    )
    with op.batch_alter_table('case_intervention', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_intervention_case_id'), ['case_id'], unique=False)

    op.create_table('case_link',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('source_case_id', sa.Uuid(), nullable=False),
    sa.Column('target_case_id', sa.Uuid(), nullable=False),
    sa.Column('submission_ids', sa.Text(), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['staff_user.id'], name=op.f('fk_case_link_actor_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_case_id'], ['cases.id'], name=op.f('fk_case_link_source_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_case_id'], ['cases.id'], name=op.f('fk_case_link_target_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_link'))
    )
    with op.batch_alter_table('case_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_link_source_case_id'), ['source_case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_link_target_case_id'), ['target_case_id'], unique=False)

    op.create_table('case_person',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('sex', sa.String(length=16), nullable=True),
    sa.Column('age_band', sa.String(length=16), nullable=True),
    sa.Column('citizenship', sa.String(length=2), nullable=True),
    sa.Column('sealed', api.core.models.Ciphertext(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_person_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_person'))
    )
    with op.batch_alter_table('case_person', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_person_case_id'), ['case_id'], unique=False)

    op.create_table('case_act',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('victim_id', sa.Uuid(), nullable=False),
    sa.Column('act_type', sa.String(length=32), nullable=False),
    sa.Column('start_month', sa.String(length=7), nullable=True),
    sa.Column('end_month', sa.String(length=7), nullable=True),
    sa.Column('date_precision', sa.String(length=24), nullable=True),
    sa.Column('region', sa.String(length=16), nullable=True),
    sa.Column('status_at_end', sa.String(length=32), nullable=True),
    sa.Column('sealed', api.core.models.Ciphertext(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_act_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['victim_id'], ['case_person.id'], name=op.f('fk_case_act_victim_id_case_person'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_act'))
    )
    with op.batch_alter_table('case_act', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_act_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_case_act_type_case', ['act_type', 'case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_act_victim_id'), ['victim_id'], unique=False)

    op.create_table('case_consent',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('scope', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Uuid(), nullable=True),
    sa.Column('recorded_at', api.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', api.core.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Uuid(), nullable=True),
    sa.Column('sealed_note', api.core.models.Ciphertext(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_consent_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['case_person.id'], name=op.f('fk_case_consent_person_id_case_person'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['staff_user.id'], name=op.f('fk_case_consent_recorded_by_id_staff_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['staff_user.id'], name=op.f('fk_case_consent_revoked_by_id_staff_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_consent')),
    sa.UniqueConstraint('person_id', 'scope', 'version', name='uq_case_consent_version')
    )
    with op.batch_alter_table('case_consent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_consent_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_consent_person_id'), ['person_id'], unique=False)

    op.create_table('case_detention',
    sa.Column('act_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('legal_regime', sa.String(length=32), nullable=True),
    sa.Column('facility_type', sa.String(length=32), nullable=True),
    sa.Column('whereabouts', sa.String(length=32), nullable=True),
    sa.Column('counsel_access', sa.String(length=16), nullable=True),
    sa.Column('court_type', sa.String(length=16), nullable=True),
    sa.Column('warrant_shown', sa.Boolean(), nullable=True),
    sa.Column('ongoing', sa.Boolean(), nullable=False),
    sa.Column('sealed', api.core.models.Ciphertext(), nullable=False),
    sa.ForeignKeyConstraint(['act_id'], ['case_act.id'], name=op.f('fk_case_detention_act_id_case_act'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_detention_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('act_id', name=op.f('pk_case_detention'))
    )
    with op.batch_alter_table('case_detention', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_detention_case_id'), ['case_id'], unique=False)

    op.create_table('case_disappearance',
    sa.Column('act_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('last_seen_month', sa.String(length=7), nullable=True),
    sa.Column('region', sa.String(length=16), nullable=True),
    sa.Column('forces_responsible', sa.String(length=32), nullable=True),
    sa.Column('state_acknowledgement', sa.String(length=32), nullable=True),
    sa.Column('current_status', sa.String(length=32), nullable=True),
    sa.Column('wgeid_urgent', sa.Boolean(), nullable=False),
    sa.Column('sealed', api.core.models.Ciphertext(), nullable=False),
    sa.ForeignKeyConstraint(['act_id'], ['case_act.id'], name=op.f('fk_case_disappearance_act_id_case_act'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_disappearance_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('act_id', name=op.f('pk_case_disappearance'))
    )
    with op.batch_alter_table('case_disappearance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_disappearance_case_id'), ['case_id'], unique=False)

    op.create_table('case_involvement',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('act_id', sa.Uuid(), nullable=False),
    sa.Column('perpetrator_type', sa.String(length=32), nullable=True),
    sa.Column('degree', sa.String(length=32), nullable=True),
    sa.Column('sealed', api.core.models.Ciphertext(), nullable=False),
    sa.ForeignKeyConstraint(['act_id'], ['case_act.id'], name=op.f('fk_case_involvement_act_id_case_act'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_involvement_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_involvement'))
    )
    with op.batch_alter_table('case_involvement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_involvement_act_id'), ['act_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_involvement_case_id'), ['case_id'], unique=False)

    op.create_table('case_torture',
    sa.Column('act_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('statement_signed', sa.String(length=32), nullable=True),
    sa.Column('medical_attention', sa.String(length=16), nullable=True),
    sa.Column('medical_examination', sa.Boolean(), nullable=True),
    sa.Column('psych_evaluation', sa.Boolean(), nullable=True),
    sa.Column('ip_consistency', sa.String(length=32), nullable=True),
    sa.Column('sealed', api.core.models.Ciphertext(), nullable=False),
    sa.ForeignKeyConstraint(['act_id'], ['case_act.id'], name=op.f('fk_case_torture_act_id_case_act'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_torture_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('act_id', name=op.f('pk_case_torture'))
    )
    with op.batch_alter_table('case_torture', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_torture_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        # Existing rows were created with the default priority 'normal' (rank 1).
        batch_op.add_column(sa.Column('priority_rank', sa.SmallInteger(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('due_at', api.core.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('period_end_month', sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column('sealed_summary', api.core.models.Ciphertext(), nullable=True))
        batch_op.create_index('ix_cases_list_changed', ['state_changed_at', 'id'], unique=False)
        batch_op.create_index('ix_cases_list_due', ['due_at', 'id'], unique=False)
        batch_op.create_index('ix_cases_list_priority', ['priority_rank', 'id'], unique=False)
        batch_op.create_index('ix_cases_list_received', ['received_on', 'id'], unique=False)
        batch_op.create_index('ix_cases_list_state_due', ['state', 'due_at', 'id'], unique=False)
        batch_op.create_index('ix_cases_list_state_received', ['state', 'received_on', 'id'], unique=False)
        batch_op.create_index('ix_cases_list_urgent', ['urgent', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_list_urgent')
        batch_op.drop_index('ix_cases_list_state_received')
        batch_op.drop_index('ix_cases_list_state_due')
        batch_op.drop_index('ix_cases_list_received')
        batch_op.drop_index('ix_cases_list_priority')
        batch_op.drop_index('ix_cases_list_due')
        batch_op.drop_index('ix_cases_list_changed')
        batch_op.drop_column('sealed_summary')
        batch_op.drop_column('period_end_month')
        batch_op.drop_column('due_at')
        batch_op.drop_column('priority_rank')

    with op.batch_alter_table('case_torture', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_torture_case_id'))

    op.drop_table('case_torture')
    with op.batch_alter_table('case_involvement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_involvement_case_id'))
        batch_op.drop_index(batch_op.f('ix_case_involvement_act_id'))

    op.drop_table('case_involvement')
    with op.batch_alter_table('case_disappearance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_disappearance_case_id'))

    op.drop_table('case_disappearance')
    with op.batch_alter_table('case_detention', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_detention_case_id'))

    op.drop_table('case_detention')
    with op.batch_alter_table('case_consent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_consent_person_id'))
        batch_op.drop_index(batch_op.f('ix_case_consent_case_id'))

    op.drop_table('case_consent')
    with op.batch_alter_table('case_act', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_act_victim_id'))
        batch_op.drop_index('ix_case_act_type_case')
        batch_op.drop_index(batch_op.f('ix_case_act_case_id'))

    op.drop_table('case_act')
    with op.batch_alter_table('case_person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_person_case_id'))

    op.drop_table('case_person')
    with op.batch_alter_table('case_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_link_target_case_id'))
        batch_op.drop_index(batch_op.f('ix_case_link_source_case_id'))

    op.drop_table('case_link')
    with op.batch_alter_table('case_intervention', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_intervention_case_id'))

    op.drop_table('case_intervention')
    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.drop_index('ix_case_event_case_created')

    op.drop_table('case_event')
    with op.batch_alter_table('case_code', schema=None) as batch_op:
        batch_op.drop_index('ix_case_code_vocab_code')
        batch_op.drop_index(batch_op.f('ix_case_code_subject_id'))
        batch_op.drop_index(batch_op.f('ix_case_code_case_id'))

    op.drop_table('case_code')
