"""The case and its structured metadata (see docs/case-metadata.md).

Tables:

* ``cases`` - the unit that gathers submissions, key wraps, metadata and workflow.
* ``case_person``, ``case_act`` (+ one-to-one ``case_detention``, ``case_torture``,
  ``case_disappearance``), ``case_involvement``, ``case_intervention`` - the HURIDOCS-shaped
  metadata. Each row has plain coarse coding (codes, months, oblast, sex, age band) and one
  ``sealed`` column: a ``crypto.fields.SealedJSON`` under the case key with everything that
  names or pinpoints a person (context ``case/<case id>/<table>/<row id>``).
* ``case_designation`` - a person's listings as "extremist" or "terrorist" (list, month).
* ``case_code`` - multi-valued coded fields (torture methods, intents, legal basis articles,
  victim characteristics, WGAD categories) as one row per code, so statistics are a plain
  ``GROUP BY vocab, code``.
* ``case_consent`` - consent per person and scope, append-only: a change is a new version,
  a revocation stamps ``revoked_at``; nothing is deleted.
* ``case_event`` - every workflow transition and edit (who, when, from, to; comment sealed).
* ``case_link`` - merge, duplicate and split history between cases.

Plaintext columns are the coarse, non-identifying coding the threat model allows
("What stays in plaintext, on purpose"); each says why. Everything a person wrote, every
name and every place more precise than an oblast is sealed with the case key.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    event,
    false,
)
from sqlmodel import Field, SQLModel

from api.core.models import (
    Ciphertext,
    UTCDateTime,
    UTCDay,
    new_id,
    number_within_case,
    utcnow,
    utctoday,
)


def case_column(*, index: bool = True) -> Column[uuid.UUID]:
    """``case_id`` of a row the case owns: required, and deleted with its case."""
    return Column(
        Uuid, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=index
    )


def key_case_column() -> Column[uuid.UUID]:
    """``key_case_id``: the case whose key seals the row; by default the row's own case."""
    return Column(Uuid, ForeignKey("cases.id", ondelete="CASCADE"), nullable=False,
                  index=True, default=_own_case)


def _own_case(context: Any) -> Any:
    # A row written without naming its key case is sealed under its own case's key.
    return context.get_current_parameters()["case_id"]


# Provenance of a metadata row: "intake" for what a submitter stated in a report (not yet
# confirmed by staff), "staff" for what a caseworker wrote or confirmed. Plaintext: it says
# whether a row was reviewed, which is workflow, not content.
SOURCE_INTAKE = "intake"
SOURCE_STAFF = "staff"


def source_column() -> Column[str]:
    return Column(String(8), nullable=False, default=SOURCE_STAFF, server_default=SOURCE_STAFF)


def source_submission_column() -> Column[uuid.UUID]:
    """The submission an intake statement came from (NULL for staff rows). Plaintext: an
    identifier only; the submission row already names its case and day."""
    return Column(Uuid, ForeignKey("submission.id", ondelete="SET NULL"), index=True)


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        # Keyset pagination of the caseworker list: one (sort column, id) index per sort
        # key, and (state, sort column, id) for the common "queue of one state" views.
        Index("ix_cases_list_received", "received_on", "id"),
        Index("ix_cases_list_priority", "priority_rank", "id"),
        Index("ix_cases_list_urgent", "urgent", "id"),
        Index("ix_cases_list_changed", "state_changed_at", "id"),
        Index("ix_cases_list_due", "due_at", "id"),
        Index("ix_cases_list_state_received", "state", "received_on", "id"),
        Index("ix_cases_list_state_due", "state", "due_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Plaintext: a random public code (e.g. "DKZ-4F7K-Q2MX"), shown to the submitter and
    # used by staff to talk about a case without naming anyone.
    reference: str = Field(sa_column=Column(String(32), nullable=False, unique=True))
    # Plaintext: workflow state, needed for triage queues and service levels.
    state: str = Field(default="new", sa_column=Column(String(24), nullable=False, index=True))
    # Plaintext: triage priority (low/normal/high) and urgency, needed to order queues.
    priority: str = Field(default="normal", sa_column=Column(String(16), nullable=False))
    urgent: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, index=True))
    # Plaintext: comma-separated reasons from a fixed list (ongoing_detention, torture_risk,
    # wgeid_urgent), never free text.
    urgency_reasons: str = Field(default="", sa_column=Column(String(128), nullable=False))
    # Plaintext: ISO 3166-2:BY oblast code, "abroad" or "unknown" (coarse, for statistics).
    region: str | None = Field(default=None, sa_column=Column(String(16), index=True))
    # Plaintext: month the events began (YYYY-MM) and its precision, for statistics.
    period_start_month: str | None = Field(default=None, sa_column=Column(String(7)))
    date_precision: str | None = Field(default=None, sa_column=Column(String(24)))
    # Plaintext: day precision is enough for workflow and deliberately no finer, so the
    # database cannot be lined up against network logs of when someone connected.
    received_on: date = Field(sa_column=Column(Date, nullable=False, index=True))
    # Plaintext: who handles the case is acceptable to leak (threat model); content is not.
    assignee_id: uuid.UUID | None = Field(
        default=None,
        sa_column=Column(Uuid, ForeignKey("staff_user.id", ondelete="SET NULL"), index=True),
    )
    # Plaintext: merged duplicates point at the surviving case.
    merged_into_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("cases.id"), index=True)
    )
    # Optimistic concurrency: bumped on every metadata edit, exposed as the ETag.
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    # Plaintext, day precision (UTCDay): workflow dates only. A case is created by a
    # submitter's request, so an exact time here would date that request (property 13).
    state_changed_at: datetime = Field(
        default_factory=utctoday, sa_column=Column(UTCDay, nullable=False)
    )
    created_at: datetime = Field(
        default_factory=utctoday, sa_column=Column(UTCDay, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utctoday, sa_column=Column(UTCDay, nullable=False)
    )
    # Set when the case was crypto-shredded: every wrap and ciphertext deleted.
    shredded_at: datetime | None = Field(default=None, sa_column=Column(UTCDay))

    # ---- added by the cases feature (0004) ----
    # Plaintext: 0 low, 1 normal, 2 high - ``priority`` as a number so queues sort by it.
    priority_rank: int = Field(default=1, sa_column=Column(SmallInteger, nullable=False))
    # Plaintext: when the current state's service level runs out (workflow only; derived
    # from state_changed_at and settings, whole days); NULL in final states.
    due_at: datetime | None = Field(default=None, sa_column=Column(UTCDay))
    # Plaintext: month the events ended (YYYY-MM), coarse like period_start_month.
    period_end_month: str | None = Field(default=None, sa_column=Column(String(7)))
    # SealedJSON under the case key: {"title", "narrative"} written by staff.
    sealed_summary: bytes | None = Field(default=None, sa_column=Column(Ciphertext))


class CasePerson(SQLModel, table=True):
    """A victim, relative, source, perpetrator or lawyer [ESF Person]."""

    __tablename__ = "case_person"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
    # Plaintext: the person's part in the case (victim/relative/source/perpetrator/lawyer).
    role: str = Field(sa_column=Column(String(16), nullable=False))
    # Plaintext: sex (HURIDOCS 39), 10-year age band and citizenship (ISO 3166-1 alpha-2)
    # are the coarse, aggregate-safe person fields of the threat model.
    sex: str | None = Field(default=None, sa_column=Column(String(16)))
    age_band: str | None = Field(default=None, sa_column=Column(String(16)))
    citizenship: str | None = Field(default=None, sa_column=Column(String(2)))
    # Plaintext, coarse like citizenship: ISO 3166-1 alpha-2 country the person lives in,
    # so transnational repression can be counted by country of residence.
    residence_country: str | None = Field(default=None, sa_column=Column(String(2)))
    # Plaintext: recognised as a political prisoner - month and a recogniser code
    # (political_prisoner_recogniser). Recognition is public by its nature (the lists are
    # published); this is a month and a code, never a name.
    political_prisoner_month: str | None = Field(default=None, sa_column=Column(String(7)))
    political_prisoner_recognised_by: str | None = Field(
        default=None, sa_column=Column(String(32)))
    # Perpetrator persons only (issue 17). Plaintext: the coarse type (24), like
    # case_involvement.perpetrator_type. perpetrator_ref: an opaque id a caseworker assigns
    # and reuses for the same perpetrator in other cases, so they can be followed across
    # cases without any name in plaintext; random, never derived from the identity (a hash
    # of a name could be guessed by hashing candidate names).
    perpetrator_type: str | None = Field(default=None, sa_column=Column(String(32)))
    perpetrator_ref: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, index=True))
    # SealedJSON: name, other names, birth date, ID number, address, phone, email,
    # description, health.
    sealed: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    source: str = Field(default="staff", sa_column=source_column())
    source_submission_id: uuid.UUID | None = Field(
        default=None, sa_column=source_submission_column())


class CaseAct(SQLModel, table=True):
    """One victim x one act type [ESF Act]."""

    __tablename__ = "case_act"
    __table_args__ = (Index("ix_case_act_type_case", "act_type", "case_id"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
    victim_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("case_person.id", ondelete="RESTRICT"),
                         nullable=False, index=True)
    )
    # Plaintext: act type code (vocab act_type), months, precision, oblast and status at
    # end are the aggregate-safe act fields; exact dates and places are sealed.
    act_type: str = Field(sa_column=Column(String(32), nullable=False))
    start_month: str | None = Field(default=None, sa_column=Column(String(7)))
    end_month: str | None = Field(default=None, sa_column=Column(String(7)))
    date_precision: str | None = Field(default=None, sa_column=Column(String(24)))
    region: str | None = Field(default=None, sa_column=Column(String(16)))
    status_at_end: str | None = Field(default=None, sa_column=Column(String(32)))
    # Plaintext: code of a named facility (vocab facility: TsIP Akrestsina, prison No. 8...)
    # so acts can be counted by facility; a place named in free text stays sealed. Partner
    # statistics must suppress small cells: facility + month can point at a person.
    facility: str | None = Field(default=None, sa_column=Column(String(40)))
    # Chain of events [ESF]: the act this one follows, and how (chain_link, list 22).
    # Plaintext: a link between two rows of the same case and a coarse code.
    preceding_act_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("case_act.id"), index=True))
    chain_link: str | None = Field(default=None, sa_column=Column(String(32)))
    # SealedJSON: exact location and dates, stated reason, consequences.
    sealed: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
    source: str = Field(default="staff", sa_column=source_column())
    source_submission_id: uuid.UUID | None = Field(
        default=None, sa_column=source_submission_column())


class CaseDetention(SQLModel, table=True):
    """Detention details of an act [ESF Arrest + WGAD]."""

    __tablename__ = "case_detention"

    act_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("case_act.id", ondelete="CASCADE"), primary_key=True)
    )
    case_id: uuid.UUID = Field(sa_column=case_column())
    # Plaintext: legal regime, facility type, whereabouts, counsel access, court type and
    # whether a warrant was shown are coarse codes for statistics and urgency; facility
    # names, case numbers, judges and counsel are sealed.
    legal_regime: str | None = Field(default=None, sa_column=Column(String(32)))
    facility_type: str | None = Field(default=None, sa_column=Column(String(32)))
    whereabouts: str | None = Field(default=None, sa_column=Column(String(32)))
    counsel_access: str | None = Field(default=None, sa_column=Column(String(16)))
    court_type: str | None = Field(default=None, sa_column=Column(String(16)))
    warrant_shown: bool | None = Field(default=None, sa_column=Column(Boolean))
    # Plaintext: still held (drives the ongoing-detention urgency and queues).
    ongoing: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    # Plaintext: administrative penalty (days of arrest, fine band in base units) and
    # whether the trial was in absentia (special proceedings): coarse, for statistics.
    admin_arrest_days: int | None = Field(default=None, sa_column=Column(SmallInteger))
    fine_band: str | None = Field(default=None, sa_column=Column(String(16)))
    special_proceedings: bool | None = Field(default=None, sa_column=Column(Boolean))
    # Plaintext: month of the verdict or ruling (YYYY-MM), coarse like the act's months.
    verdict_month: str | None = Field(default=None, sa_column=Column(String(7)))
    # Plaintext: coarse facts of the trial (closed, by video link; in absentia is
    # special_proceedings), for the WGAD draft; the trial's names are sealed.
    trial_closed: bool | None = Field(default=None, sa_column=Column(Boolean))
    trial_video_link: bool | None = Field(default=None, sa_column=Column(Boolean))
    # SealedJSON: facility name, order and case numbers, judge, counsel name, transfers.
    sealed: bytes = Field(sa_column=Column(Ciphertext, nullable=False))


class CaseTorture(SQLModel, table=True):
    """Torture or ill-treatment details of an act [ESF Torture + Istanbul Protocol]."""

    __tablename__ = "case_torture"

    act_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("case_act.id", ondelete="CASCADE"), primary_key=True)
    )
    case_id: uuid.UUID = Field(sa_column=case_column())
    # Plaintext: statement signed (36), medical attention (37), examinations done and the
    # Istanbul Protocol consistency level are coarse codes; injuries and quotes are sealed.
    statement_signed: str | None = Field(default=None, sa_column=Column(String(32)))
    medical_attention: str | None = Field(default=None, sa_column=Column(String(16)))
    medical_examination: bool | None = Field(default=None, sa_column=Column(Boolean))
    psych_evaluation: bool | None = Field(default=None, sa_column=Column(Boolean))
    ip_consistency: str | None = Field(default=None, sa_column=Column(String(32)))
    # Plaintext: the examiner's qualification (a code); their name stays sealed (clinician).
    examiner_qualification: str | None = Field(default=None, sa_column=Column(String(32)))
    # SealedJSON: injuries, sexual violence detail, quotes, witnesses, clinician.
    sealed: bytes = Field(sa_column=Column(Ciphertext, nullable=False))


class CaseDisappearance(SQLModel, table=True):
    """Enforced disappearance details of an act [WGEID]."""

    __tablename__ = "case_disappearance"

    act_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("case_act.id", ondelete="CASCADE"), primary_key=True)
    )
    case_id: uuid.UUID = Field(sa_column=case_column())
    # Plaintext: month and oblast last seen, forces believed responsible (24), state
    # acknowledgement (30), current status (25) and the WGEID-urgent flag are coarse;
    # the exact place, time, steps taken and family contacts are sealed.
    last_seen_month: str | None = Field(default=None, sa_column=Column(String(7)))
    region: str | None = Field(default=None, sa_column=Column(String(16)))
    forces_responsible: str | None = Field(default=None, sa_column=Column(String(32)))
    state_acknowledgement: str | None = Field(default=None, sa_column=Column(String(32)))
    current_status: str | None = Field(default=None, sa_column=Column(String(32)))
    wgeid_urgent: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    # SealedJSON: last-seen date and place, dated steps taken by relatives, contacts.
    sealed: bytes = Field(sa_column=Column(Ciphertext, nullable=False))


class CaseInvolvement(SQLModel, table=True):
    """Who is believed to have committed an act [ESF Involvement]."""

    __tablename__ = "case_involvement"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
    act_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("case_act.id", ondelete="CASCADE"),
                         nullable=False, index=True)
    )
    # Plaintext: perpetrator type (24) and degree of involvement (18) are coarse codes.
    perpetrator_type: str | None = Field(default=None, sa_column=Column(String(32)))
    degree: str | None = Field(default=None, sa_column=Column(String(32)))
    # The perpetrator as a person of the case (role "perpetrator"), when recorded as one.
    person_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("case_person.id", ondelete="RESTRICT"),
                                       index=True))
    # SealedJSON: names, unit and badge numbers, description.
    sealed: bytes = Field(sa_column=Column(Ciphertext, nullable=False))


class CaseIntervention(SQLModel, table=True):
    """Legal aid, medical aid, UN communications and other interventions [ESF]."""

    __tablename__ = "case_intervention"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
    # Plaintext: intervention type (20 + UN mechanisms), month and status are coarse.
    intervention_type: str = Field(sa_column=Column(String(32), nullable=False))
    month: str | None = Field(default=None, sa_column=Column(String(7)))
    status: str | None = Field(default=None, sa_column=Column(String(16)))
    # SealedJSON: reference numbers, correspondence, response.
    sealed: bytes = Field(sa_column=Column(Ciphertext, nullable=False))


class CaseCode(SQLModel, table=True):
    """One code of a multi-valued coded field of a person or act (one row per code)."""

    __tablename__ = "case_code"
    __table_args__ = (Index("ix_case_code_vocab_code", "vocab", "code"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
    # The person or act this code describes (case_person.id or case_act.id).
    subject_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, index=True))
    # Plaintext: vocabulary id (torture_method, intent, legal_basis, victim_characteristic,
    # wgad_category) and a code from it: fixed lists, never free text.
    vocab: str = Field(sa_column=Column(String(32), nullable=False))
    code: str = Field(sa_column=Column(String(32), nullable=False))


class CaseDesignation(SQLModel, table=True):
    """A person put on one of the authorities' lists ("extremist", "terrorist"), by month."""

    __tablename__ = "case_designation"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
    person_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("case_person.id", ondelete="CASCADE"),
                         nullable=False, index=True)
    )
    # Plaintext: a list_designation code and the month of listing: the lists themselves
    # are published by the authorities; a code and a month name no one.
    list_type: str = Field(sa_column=Column(String(32), nullable=False))
    month: str | None = Field(default=None, sa_column=Column(String(7)))


class CaseConsent(SQLModel, table=True):
    """Consent of one person for one scope; versioned, revoked but never deleted."""

    __tablename__ = "case_consent"
    __table_args__ = (
        UniqueConstraint("person_id", "scope", "version", name="uq_case_consent_version"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
    person_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("case_person.id", ondelete="RESTRICT"),
                         nullable=False, index=True)
    )
    # Plaintext: consent flags are listed as plaintext in the threat model so they can be
    # enforced (referrals, statistics) without opening the case. A consent_scope code;
    # sharing with a UN mechanism has one scope per mechanism (share_un_wgeid, ...).
    scope: str = Field(sa_column=Column(String(40), nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    recorded_by_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("staff_user.id", ondelete="SET NULL"))
    )
    # Day precision: consent is recorded at intake too, from the submitter's own form.
    recorded_at: datetime = Field(
        default_factory=utctoday, sa_column=Column(UTCDay, nullable=False)
    )
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDay))
    revoked_by_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("staff_user.id", ondelete="SET NULL"))
    )
    # SealedJSON: how and when consent was given or withdrawn, in the person's words.
    sealed_note: bytes | None = Field(default=None, sa_column=Column(Ciphertext))
    source: str = Field(default="staff", sa_column=source_column())
    source_submission_id: uuid.UUID | None = Field(
        default=None, sa_column=source_submission_column())
    # Plaintext: given at intake by the submitter for this person (a relative or lawyer
    # reporting), not by the person themselves. Referrals accept it (the WGEID acts on a
    # family's consent); statistics count only a person's own consent.
    on_behalf: bool = Field(default=False, sa_column=Column(
        Boolean, nullable=False, default=False, server_default=false()))


class CaseEvent(SQLModel, table=True):
    """One workflow transition or change of a case: who, when, what, and a sealed comment."""

    __tablename__ = "case_event"
    __table_args__ = (
        Index("ix_case_event_case_created", "case_id", "created_at"),
        Index("ix_case_event_case_seq", "case_id", "seq"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column(index=False))
    # Plaintext: event kind from a fixed list (transition, edit, assign, merge, split,
    # grant, revoke, consent, derivative) and the states involved: workflow, not content.
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    from_state: str | None = Field(default=None, sa_column=Column(String(24)))
    to_state: str | None = Field(default=None, sa_column=Column(String(24)))
    # Plaintext: which staff member acted is acceptable to leak (threat model).
    actor_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("staff_user.id", ondelete="SET NULL"))
    )
    # Plaintext: non-identifying detail, e.g. which metadata sections changed or the id of
    # the other case of a merge; never free text.
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    # SealedText under the case key: the person's comment.
    sealed_comment: bytes | None = Field(default=None, sa_column=Column(Ciphertext))
    # Day precision: intake and a submitter's additions write events too (property 13).
    created_at: datetime = Field(
        default_factory=utctoday, sa_column=Column(UTCDay, nullable=False)
    )
    # Order within the case (1, 2, 3, ...), since created_at no longer orders a day's
    # events; the four-eyes rule reads the history in this order.
    seq: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


number_within_case(CaseEvent)


class CaseLink(SQLModel, table=True):
    """Merge, duplicate and split history: nothing is lost, every move is linked."""

    __tablename__ = "case_link"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # Plaintext: "merged_into", "duplicate_of" or "split_from"; source -> target.
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    source_case_id: uuid.UUID = Field(sa_column=case_column())
    target_case_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("cases.id", ondelete="CASCADE"),
                         nullable=False, index=True)
    )
    # Plaintext: ids of the submissions moved (comma-separated UUIDs): identifiers only.
    submission_ids: str = Field(default="", sa_column=Column(Text, nullable=False))
    actor_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("staff_user.id", ondelete="SET NULL"))
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )


@event.listens_for(Case, "before_insert")
def _initial_due_date(_mapper: object, _connection: object, case: Case) -> None:
    # Whoever creates a case (intake, a split) gets the due date of its first state from
    # the configured service levels without having to know about them.
    if case.due_at is None:
        from api.cases.workflow.states import due_at
        from api.core.settings import get_settings

        case.due_at = due_at(case.state, case.state_changed_at, urgent=case.urgent,
                             settings=get_settings())


# ---------------------------------------------------------------- HURIDOCS model, completed
# Issue 17 items 3 and 5: Information, relationships between persons, witnesses of acts and
# the Istanbul Protocol structure of a torture detail. Every column below is either a link
# between rows of the same case or a coarse code; what a person said or wrote is sealed.


class CaseInformation(SQLModel, table=True):
    """Where what we know of an act comes from [ESF Information]."""

    __tablename__ = "case_information"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
    source_person_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(Uuid, ForeignKey("case_person.id", ondelete="RESTRICT"),
                                       index=True))
    # The act it informs on. No foreign key: a PATCH of acts rewrites case_act rows under
    # the same ids; the store refuses (409) to drop an act still named here.
    act_id: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, index=True))
    # Plaintext: source connection (19), reliability and material type (16), coarse codes.
    source_connection: str | None = Field(default=None, sa_column=Column(String(32)))
    reliability: str | None = Field(default=None, sa_column=Column(String(16)))
    material_type: str | None = Field(default=None, sa_column=Column(String(32)))
    # SealedJSON: description, date of the material, language, references.
    sealed: bytes = Field(sa_column=Column(Ciphertext, nullable=False))


class CaseRelationship(SQLModel, table=True):
    """<person> is <relationship_type> <related person> [ESF Biographic details, list 21]."""

    __tablename__ = "case_relationship"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
    person_id: uuid.UUID = Field(sa_column=Column(
        Uuid, ForeignKey("case_person.id", ondelete="RESTRICT"), nullable=False, index=True))
    related_person_id: uuid.UUID = Field(sa_column=Column(
        Uuid, ForeignKey("case_person.id", ondelete="RESTRICT"), nullable=False, index=True))
    # Plaintext: a code of relationship_type; who the persons are stays sealed on them.
    relationship_type: str = Field(sa_column=Column(String(32), nullable=False))


class CaseWitness(SQLModel, table=True):
    """A person of the case who witnessed an act."""

    __tablename__ = "case_witness"

    act_id: uuid.UUID = Field(sa_column=Column(
        Uuid, ForeignKey("case_act.id", ondelete="CASCADE"), primary_key=True))
    person_id: uuid.UUID = Field(sa_column=Column(
        Uuid, ForeignKey("case_person.id", ondelete="RESTRICT"), primary_key=True, index=True))
    case_id: uuid.UUID = Field(sa_column=case_column())


class CaseTortureMethod(SQLModel, table=True):
    """Duration and frequency of one method of a torture detail [Istanbul Protocol]."""

    __tablename__ = "case_torture_method"

    act_id: uuid.UUID = Field(sa_column=Column(
        Uuid, ForeignKey("case_act.id", ondelete="CASCADE"), primary_key=True))
    method: str = Field(sa_column=Column(String(32), primary_key=True))
    case_id: uuid.UUID = Field(sa_column=case_column())
    # Plaintext: bands of ip_duration and ip_frequency (coarse codes).
    duration: str | None = Field(default=None, sa_column=Column(String(16)))
    frequency: str | None = Field(default=None, sa_column=Column(String(16)))


class CaseEvidence(SQLModel, table=True):
    """An attachment of the case documenting an act, or one injury of it (body area)."""

    __tablename__ = "case_evidence"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=case_column())
    act_id: uuid.UUID = Field(sa_column=Column(
        Uuid, ForeignKey("case_act.id", ondelete="CASCADE"), nullable=False, index=True))
    attachment_id: uuid.UUID = Field(sa_column=Column(
        Uuid, ForeignKey("attachment.id", ondelete="CASCADE"), nullable=False, index=True))
    # Plaintext: the body area of the injury shown (None: the act as a whole).
    body_area: str | None = Field(default=None, sa_column=Column(String(32)))
    # SealedJSON: what the file shows, in the caseworker's words.
    sealed: bytes = Field(sa_column=Column(Ciphertext, nullable=False))
