"""Request and response bodies of the caseworker API (metadata document, list, detail).

The metadata document mirrors the tables in :mod:`api.cases.models`: coarse coded fields
at the top level of each object, and a ``private`` object with everything identifying,
which is sealed with the case key as one JSON value per row. The same shapes are used to
write (``PATCH``) and to read (detail), so a client edits what it read.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.cases.codes import (
    ActType,
    AgeBand,
    ConsentScope,
    CounselAccess,
    CourtType,
    DatePrecision,
    DetentionRegime,
    FacilityType,
    Intent,
    InterventionStatus,
    InterventionType,
    InvolvementDegree,
    IpConsistency,
    LegalBasis,
    MedicalAttention,
    Month,
    PerpetratorType,
    Priority,
    Region,
    Sex,
    StatementSigned,
    StatusAtEnd,
    TortureMethod,
    UrgencyReason,
    VictimCharacteristic,
    WgadCategory,
    Whereabouts,
)

Short = Annotated[str, StringConstraints(max_length=500)]
Long = Annotated[str, StringConstraints(max_length=50_000)]
IsoDate = Annotated[str, StringConstraints(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- private (sealed) blocks ----

class PersonPrivate(_Strict):
    name: Short | None = None
    other_names: list[Short] = Field(default_factory=list, max_length=20)
    birth_date: IsoDate | None = None
    id_number: Short | None = None
    address: Short | None = None
    phone: Short | None = None
    email: Short | None = None
    occupation: Short | None = None
    description: Long | None = None
    health: Long | None = None


class ActPrivate(_Strict):
    location: Short | None = None
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    stated_reason: Long | None = None
    consequences: Long | None = None


class DetentionPrivate(_Strict):
    facility_name: Short | None = None
    ordering_authority: Short | None = None
    order_number: Short | None = None
    case_number: Short | None = None
    judge: Short | None = None
    counsel_name: Short | None = None
    reasons_given: Long | None = None
    transfers: list[Short] = Field(default_factory=list, max_length=50)
    domestic_remedies: Long | None = None
    sentence: Short | None = None


class TorturePrivate(_Strict):
    description: Long | None = None
    injuries: Long | None = None
    sexual_violence: Long | None = None
    quotes: Long | None = None
    witnesses: Long | None = None
    clinician: Short | None = None


class StepTaken(_Strict):
    type: Short
    date: IsoDate | None = None
    description: Long | None = None


class DisappearancePrivate(_Strict):
    last_seen_date: IsoDate | None = None
    last_seen_place: Short | None = None
    circumstances: Long | None = None
    steps_taken: list[StepTaken] = Field(default_factory=list, max_length=50)
    family_contacts: Long | None = None


class InvolvementPrivate(_Strict):
    names: list[Short] = Field(default_factory=list, max_length=20)
    unit: Short | None = None
    badge_numbers: list[Short] = Field(default_factory=list, max_length=20)
    description: Long | None = None


class InterventionPrivate(_Strict):
    reference: Short | None = None
    correspondence: Long | None = None
    response: Long | None = None


# ---- coded objects ----

PersonRole = Literal["victim", "relative", "source", "witness", "perpetrator", "lawyer"]


class Person(_Strict):
    id: uuid.UUID | None = None
    role: PersonRole
    sex: Sex | None = None
    age_band: AgeBand | None = None
    citizenship: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    characteristics: list[VictimCharacteristic] = Field(default_factory=list, max_length=20)
    private: PersonPrivate = Field(default_factory=PersonPrivate)


class Detention(_Strict):
    legal_regime: DetentionRegime | None = None
    facility_type: FacilityType | None = None
    whereabouts: Whereabouts | None = None
    counsel_access: CounselAccess | None = None
    court_type: CourtType | None = None
    warrant_shown: bool | None = None
    ongoing: bool = False
    legal_basis: list[LegalBasis] = Field(default_factory=list, max_length=20)
    wgad_categories: list[WgadCategory] = Field(default_factory=list, max_length=5)
    private: DetentionPrivate = Field(default_factory=DetentionPrivate)


class Torture(_Strict):
    methods: list[TortureMethod] = Field(default_factory=list, max_length=40)
    intents: list[Intent] = Field(default_factory=list, max_length=10)
    statement_signed: StatementSigned | None = None
    medical_attention: MedicalAttention | None = None
    medical_examination: bool | None = None
    psych_evaluation: bool | None = None
    ip_consistency: IpConsistency | None = None
    private: TorturePrivate = Field(default_factory=TorturePrivate)


class Disappearance(_Strict):
    last_seen_month: Month | None = None
    region: Region | None = None
    forces_responsible: PerpetratorType | None = None
    state_acknowledgement: Whereabouts | None = None
    current_status: StatusAtEnd | None = None
    # Computed from the last-seen date and when the case was received (read-only).
    wgeid_urgent: bool = False
    private: DisappearancePrivate = Field(default_factory=DisappearancePrivate)


class Involvement(_Strict):
    id: uuid.UUID | None = None
    perpetrator_type: PerpetratorType | None = None
    degree: InvolvementDegree | None = None
    private: InvolvementPrivate = Field(default_factory=InvolvementPrivate)


class Act(_Strict):
    id: uuid.UUID | None = None
    victim_id: uuid.UUID
    act_type: ActType
    start_month: Month | None = None
    end_month: Month | None = None
    date_precision: DatePrecision | None = None
    region: Region | None = None
    status_at_end: StatusAtEnd | None = None
    private: ActPrivate = Field(default_factory=ActPrivate)
    detention: Detention | None = None
    torture: Torture | None = None
    disappearance: Disappearance | None = None
    perpetrators: list[Involvement] = Field(default_factory=list, max_length=50)


class Intervention(_Strict):
    id: uuid.UUID | None = None
    intervention_type: InterventionType
    month: Month | None = None
    status: InterventionStatus | None = None
    private: InterventionPrivate = Field(default_factory=InterventionPrivate)


class Summary(_Strict):
    title: Short | None = None
    narrative: Long | None = None


class MetadataPatch(_Strict):
    """Sections given replace the stored ones; sections left out stay as they are."""

    priority: Priority | None = None
    urgency_reasons: list[UrgencyReason] | None = None
    region: Region | None = None
    period_start_month: Month | None = None
    period_end_month: Month | None = None
    date_precision: DatePrecision | None = None
    summary: Summary | None = None
    persons: list[Person] | None = Field(default=None, max_length=200)
    acts: list[Act] | None = Field(default=None, max_length=500)
    interventions: list[Intervention] | None = Field(default=None, max_length=200)


class Metadata(BaseModel):
    summary: Summary
    persons: list[Person]
    acts: list[Act]
    interventions: list[Intervention]


# ---- workflow, access, consent ----

class TransitionIn(_Strict):
    to: str = Field(max_length=24)
    comment: Long | None = None
    duplicate_of: uuid.UUID | None = None


class AssignIn(_Strict):
    assignee_id: uuid.UUID | None


class GrantIn(_Strict):
    staff_id: uuid.UUID


class ConsentIn(_Strict):
    person_id: uuid.UUID
    scope: ConsentScope
    note: Long | None = None


class ConsentOut(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    scope: str
    version: int
    recorded_by_id: uuid.UUID | None
    recorded_at: datetime
    revoked_at: datetime | None
    revoked_by_id: uuid.UUID | None
    active: bool
    note: str | None = None


class MessageIn(_Strict):
    body: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
    # Which submitter's thread the reply is for; may be left out when the case has one.
    thread_id: uuid.UUID | None = None


class MessageOut(BaseModel):
    id: uuid.UUID
    thread_id: uuid.UUID
    thread: str
    direction: str
    author_id: uuid.UUID | None
    body: str
    created_at: datetime
    read_at: datetime | None


class ThreadOut(BaseModel):
    """One submitter's thread in a case: shown in full, or marked as not shared with you."""

    id: uuid.UUID
    label: str
    shared: bool
    note: str | None
    submissions: int
    messages: int


class MergeIn(_Strict):
    from_case_id: uuid.UUID
    comment: Long | None = None


class SplitIn(_Strict):
    submission_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)
    comment: Long | None = None


# ---- list and detail ----

class CaseListItem(BaseModel):
    id: uuid.UUID
    reference: str
    state: str
    priority: str
    urgent: bool
    urgency_reasons: list[str]
    region: str | None
    received_on: date
    state_changed_at: datetime
    due_at: datetime | None
    overdue: bool
    assignee_id: uuid.UUID | None
    act_types: list[str]
    version: int


class CaseList(BaseModel):
    items: list[CaseListItem]
    next_cursor: str | None


class EventOut(BaseModel):
    id: uuid.UUID
    kind: str
    from_state: str | None
    to_state: str | None
    actor_id: uuid.UUID | None
    detail: str
    comment: str | None
    created_at: datetime


class LinkOut(BaseModel):
    kind: str
    source_case_id: uuid.UUID
    target_case_id: uuid.UUID
    submission_ids: list[uuid.UUID]
    actor_id: uuid.UUID | None
    created_at: datetime


class AccessOut(BaseModel):
    recipient_kind: str
    recipient_id: uuid.UUID
    granted_by_id: uuid.UUID | None
    created_at: datetime


class SubmissionOut(BaseModel):
    id: uuid.UUID
    thread_id: uuid.UUID
    thread: str
    received_on: date
    channel: str
    submitter_role: str
    categories: list[str]
    language: str
    consent_scopes: list[str]
    is_followup: bool
    payload: Any


class AttachmentOut(BaseModel):
    id: uuid.UUID
    submission_id: uuid.UUID | None
    kind: str
    derived_from_id: uuid.UUID | None
    ciphertext_size: int
    created_at: datetime
    metadata: dict[str, Any]


class CaseDetail(CaseListItem):
    period_start_month: str | None
    period_end_month: str | None
    date_precision: str | None
    merged_into_id: uuid.UUID | None
    metadata: Metadata
    consents: list[ConsentOut]
    # Every thread of the case; the lists below hold only the threads shared with you.
    threads: list[ThreadOut]
    submissions: list[SubmissionOut]
    attachments: list[AttachmentOut]
    messages: list[MessageOut]
    events: list[EventOut]
    links: list[LinkOut]
    access: list[AccessOut]
    next_states: list[str]
