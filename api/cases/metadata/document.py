"""The structured metadata document of a case: read in the detail, written with ``PATCH``.

The document mirrors the tables in :mod:`api.cases.models`: coarse coded fields at the top
level of each object, and a ``private`` object with everything identifying, which is
sealed with the case key as one JSON value per row. The same shapes are used to write
(``PATCH``) and to read (detail), so a client edits what it read. The constrained string
types and the strict base here are the ones every request body of a case uses.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.cases.metadata.codes import (
    ActType,
    AgeBand,
    BodyArea,
    ChainLink,
    CounselAccess,
    Country,
    CourtType,
    DatePrecision,
    DetentionRegime,
    ExaminerQualification,
    Facility,
    FacilityType,
    FineBand,
    Intent,
    InterventionStatus,
    InterventionType,
    InvolvementDegree,
    IpConsistency,
    IpDuration,
    IpFrequency,
    IpObject,
    IpPosition,
    LegalBasis,
    ListDesignation,
    MaterialType,
    MedicalAttention,
    Month,
    PerpetratorType,
    PoliticalPrisonerRecogniser,
    Priority,
    PsychSequela,
    Region,
    RelationshipType,
    Reliability,
    Sex,
    SourceConnection,
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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PersonPrivate(Strict):
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
    # The submitter's own way to be reached and tie to the events, as they gave them.
    contact: Short | None = None
    relationship: Short | None = None


class ActPrivate(Strict):
    location: Short | None = None
    start_date: IsoDate | None = None
    end_date: IsoDate | None = None
    stated_reason: Long | None = None
    consequences: Long | None = None


class Appeal(Strict):
    """One appeal against a judgment (sealed with the detention)."""

    court: Short | None = None
    date: IsoDate | None = None
    outcome: Long | None = None


class Trial(Strict):
    """The trial that followed a detention, as the WGAD questionnaire asks for it (sealed
    with the detention: court, judge, case number and counsel identify people). Whether it
    was closed, by video link or in absentia is coarse and coded on the detention itself."""

    court: Short | None = None
    judge: Short | None = None
    case_number: Short | None = None
    opened_on: IsoDate | None = None
    judgment_on: IsoDate | None = None
    counsel: Short | None = None
    charges: Long | None = None
    sentence: Short | None = None
    appeals: list[Appeal] = Field(default_factory=list, max_length=20)


class Remedy(Strict):
    """A domestic remedy tried: what, when, with what outcome (sealed with the detention)."""

    remedy: Short
    date: IsoDate | None = None
    outcome: Long | None = None


class CategoryFacts(Strict):
    """The facts that support each WGAD category of arbitrariness (I-V), in staff's words."""

    category_i: Long | None = None
    category_ii: Long | None = None
    category_iii: Long | None = None
    category_iv: Long | None = None
    category_v: Long | None = None


class DetentionPrivate(Strict):
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
    # For the WGAD draft (api/cases/referrals/drafts.py).
    circumstances: Long | None = None
    custodians: list[Short] = Field(default_factory=list, max_length=20)
    current_place: Short | None = None
    trial: Trial | None = None
    remedies: list[Remedy] = Field(default_factory=list, max_length=50)
    category_facts: CategoryFacts = Field(default_factory=CategoryFacts)


class TorturePrivate(Strict):
    description: Long | None = None
    injuries: Long | None = None
    sexual_violence: Long | None = None
    quotes: Long | None = None
    witnesses: Long | None = None
    clinician: Short | None = None
    # Istanbul Protocol: when the medical examination took place (year, month or day).
    examination_date: IsoDate | None = None


class StepTaken(Strict):
    type: Short
    date: IsoDate | None = None
    description: Long | None = None
    # Whom the step was taken with (an authority, a court) and what came of it.
    addressed_to: Short | None = None
    outcome: Long | None = None


class DisappearancePrivate(Strict):
    last_seen_date: IsoDate | None = None
    last_seen_place: Short | None = None
    circumstances: Long | None = None
    steps_taken: list[StepTaken] = Field(default_factory=list, max_length=50)
    family_contacts: Long | None = None


class InvolvementPrivate(Strict):
    names: list[Short] = Field(default_factory=list, max_length=20)
    unit: Short | None = None
    badge_numbers: list[Short] = Field(default_factory=list, max_length=20)
    description: Long | None = None


class InterventionPrivate(Strict):
    reference: Short | None = None
    correspondence: Long | None = None
    response: Long | None = None


# ---------------------------------------------------------------- HURIDOCS model, completed
# Issue 17 items 3 and 5: Information, relationships, the Istanbul Protocol structure of a
# torture detail. Coded where coarse, sealed (``private``) where it could identify someone.


class MethodDetail(Strict):
    """How long and how often one method was used (the method is also in ``methods``)."""

    method: TortureMethod
    duration: IpDuration | None = None
    frequency: IpFrequency | None = None


class EvidencePrivate(Strict):
    note: Long | None = None


class Evidence(Strict):
    """An attachment of this case that documents the act or, with a body area, one injury."""

    attachment_id: uuid.UUID
    body_area: BodyArea | None = None
    private: EvidencePrivate = Field(default_factory=EvidencePrivate)


class Relationship(Strict):
    """<person> is <relationship_type> <related person>, e.g. brother of, lawyer of."""

    id: uuid.UUID | None = None
    person_id: uuid.UUID
    relationship_type: RelationshipType
    related_person_id: uuid.UUID


class InformationPrivate(Strict):
    description: Long | None = None
    material_date: IsoDate | None = None
    language: Short | None = None
    references: list[Short] = Field(default_factory=list, max_length=20)


class Information(Strict):
    """Where what we know of an act comes from [ESF Information]: a source person of the
    case, the act (None: the case as a whole), and coarse codes of the material."""

    id: uuid.UUID | None = None
    source_person_id: uuid.UUID | None = None
    act_id: uuid.UUID | None = None
    source_connection: SourceConnection | None = None
    reliability: Reliability | None = None
    material_type: MaterialType | None = None
    private: InformationPrivate = Field(default_factory=InformationPrivate)


PersonRole = Literal["victim", "relative", "source", "witness", "perpetrator", "lawyer"]


class Provenance(Strict):
    """Where an item of the document comes from (read-only, see :mod:`.statements`).

    ``intake``: what a submitter stated in a report (``submission_id``), received on
    ``reported_on``, not yet confirmed by staff. ``staff``: written or confirmed by a
    caseworker. A ``PATCH`` keeps an item's intake provenance only when the item comes back
    with it and unchanged; anything else a caseworker sends is theirs (confirmed or
    corrected), and a client can never make an item "intake" itself.
    """

    source: Literal["intake", "staff"] = "staff"
    submission_id: uuid.UUID | None = None
    reported_on: date | None = None
    statement: Short | None = None


class Designation(Strict):
    """The person was put on one of the authorities' lists ("extremist", "terrorist")."""

    list_type: ListDesignation
    month: Month | None = None


class PoliticalPrisonerRecognition(Strict):
    """Recognised as a political prisoner: by whom and since when (month)."""

    recognised_by: PoliticalPrisonerRecogniser
    month: Month | None = None


class Person(Strict):
    id: uuid.UUID | None = None
    role: PersonRole
    sex: Sex | None = None
    age_band: AgeBand | None = None
    citizenship: Country | None = None
    # Where the person lives now: transnational repression is counted by it.
    residence_country: Country | None = None
    characteristics: list[VictimCharacteristic] = Field(default_factory=list, max_length=20)
    designations: list[Designation] = Field(default_factory=list, max_length=10)
    political_prisoner: PoliticalPrisonerRecognition | None = None
    # Role "perpetrator" only: the coarse type (24) and the opaque cross-case reference
    # (see CasePerson.perpetrator_ref); the name and unit are sealed in ``private``.
    perpetrator_type: PerpetratorType | None = None
    perpetrator_ref: uuid.UUID | None = None
    private: PersonPrivate = Field(default_factory=PersonPrivate)
    provenance: Provenance | None = None


class Detention(Strict):
    legal_regime: DetentionRegime | None = None
    facility_type: FacilityType | None = None
    whereabouts: Whereabouts | None = None
    counsel_access: CounselAccess | None = None
    court_type: CourtType | None = None
    warrant_shown: bool | None = None
    ongoing: bool = False
    # Administrative penalty (CAO): days of administrative arrest and the fine's band.
    admin_arrest_days: int | None = Field(default=None, ge=0, le=366)
    fine_band: FineBand | None = None
    # Tried in absentia ("special proceedings" of the Criminal Procedure Code).
    special_proceedings: bool | None = None
    # Month of the verdict or administrative ruling: convictions are counted by it (the
    # act's start month is the arrest).
    verdict_month: Month | None = None
    legal_basis: list[LegalBasis] = Field(default_factory=list, max_length=20)
    wgad_categories: list[WgadCategory] = Field(default_factory=list, max_length=5)
    # Coarse facts of the trial (the rest of it is sealed in private.trial).
    trial_closed: bool | None = None
    trial_video_link: bool | None = None
    # (in absentia: special_proceedings above)
    private: DetentionPrivate = Field(default_factory=DetentionPrivate)


class Torture(Strict):
    methods: list[TortureMethod] = Field(default_factory=list, max_length=40)
    intents: list[Intent] = Field(default_factory=list, max_length=10)
    statement_signed: StatementSigned | None = None
    medical_attention: MedicalAttention | None = None
    medical_examination: bool | None = None
    psych_evaluation: bool | None = None
    ip_consistency: IpConsistency | None = None
    # Istanbul Protocol structure (see the block "HURIDOCS model, completed" below).
    method_details: list[MethodDetail] = Field(default_factory=list, max_length=40)
    body_areas: list[BodyArea] = Field(default_factory=list, max_length=20)
    positions: list[IpPosition] = Field(default_factory=list, max_length=20)
    objects: list[IpObject] = Field(default_factory=list, max_length=20)
    psych_sequelae: list[PsychSequela] = Field(default_factory=list, max_length=20)
    examiner_qualification: ExaminerQualification | None = None
    evidence: list[Evidence] = Field(default_factory=list, max_length=100)
    private: TorturePrivate = Field(default_factory=TorturePrivate)


class Disappearance(Strict):
    last_seen_month: Month | None = None
    region: Region | None = None
    forces_responsible: PerpetratorType | None = None
    state_acknowledgement: Whereabouts | None = None
    current_status: StatusAtEnd | None = None
    # Computed from the last-seen date and when the case was received (read-only).
    wgeid_urgent: bool = False
    private: DisappearancePrivate = Field(default_factory=DisappearancePrivate)


class Involvement(Strict):
    id: uuid.UUID | None = None
    perpetrator_type: PerpetratorType | None = None
    degree: InvolvementDegree | None = None
    # The perpetrator as a person of this case (role "perpetrator"); optional, so
    # involvements written before persons could be perpetrators keep working.
    person_id: uuid.UUID | None = None
    private: InvolvementPrivate = Field(default_factory=InvolvementPrivate)


class Act(Strict):
    id: uuid.UUID | None = None
    victim_id: uuid.UUID
    act_type: ActType
    start_month: Month | None = None
    end_month: Month | None = None
    date_precision: DatePrecision | None = None
    region: Region | None = None
    # The named place where the act happened (its free-text name stays in the sealed parts).
    facility: Facility | None = None
    status_at_end: StatusAtEnd | None = None
    # Chain of events: the act of this case this one follows, and how (chain_link).
    preceding_act_id: uuid.UUID | None = None
    chain_link: ChainLink | None = None
    # Persons of this case who witnessed the act.
    witness_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    private: ActPrivate = Field(default_factory=ActPrivate)
    detention: Detention | None = None
    torture: Torture | None = None
    disappearance: Disappearance | None = None
    perpetrators: list[Involvement] = Field(default_factory=list, max_length=50)
    provenance: Provenance | None = None


class Intervention(Strict):
    id: uuid.UUID | None = None
    intervention_type: InterventionType
    month: Month | None = None
    status: InterventionStatus | None = None
    private: InterventionPrivate = Field(default_factory=InterventionPrivate)


class Summary(Strict):
    title: Short | None = None
    narrative: Long | None = None


class MetadataPatch(Strict):
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
    relationships: list[Relationship] | None = Field(default=None, max_length=500)
    information: list[Information] | None = Field(default=None, max_length=500)


class Metadata(BaseModel):
    summary: Summary
    persons: list[Person]
    acts: list[Act]
    interventions: list[Intervention]
    relationships: list[Relationship] = Field(default_factory=list)
    information: list[Information] = Field(default_factory=list)
    # Persons and acts still as the submitter stated them at intake, for a caseworker to
    # confirm or correct (see Provenance).
    unconfirmed: int = 0
