"""Coarse coded fields of the case metadata, each validated against its vocabulary.

Each alias is ``Annotated[str, VocabCode(<vocabulary>)]`` (api.vocab.registry): an unknown
or retired code is a clear 422 naming the field and the vocabulary, never a silent store.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from api.vocab.registry import VocabCode

MONTH_RE = r"^\d{4}-(0[1-9]|1[0-2])$"
Month = Annotated[str, StringConstraints(pattern=MONTH_RE)]
# ISO 3166-1 alpha-2, upper case (citizenship, country of residence).
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]

ActType = Annotated[str, VocabCode("act_type")]
AgeBand = Annotated[str, VocabCode("age_band")]
BodyArea = Annotated[str, VocabCode("body_area")]
ChainLink = Annotated[str, VocabCode("chain_link")]
ConsentScope = Annotated[str, VocabCode("consent_scope")]
CounselAccess = Annotated[str, VocabCode("counsel_access")]
CourtType = Annotated[str, VocabCode("court_type")]
DatePrecision = Annotated[str, VocabCode("date_precision")]
DetentionRegime = Annotated[str, VocabCode("detention_regime")]
Facility = Annotated[str, VocabCode("facility")]
ExaminerQualification = Annotated[str, VocabCode("examiner_qualification")]
FacilityType = Annotated[str, VocabCode("facility_type")]
FineBand = Annotated[str, VocabCode("fine_band")]
Intent = Annotated[str, VocabCode("intent")]
InterventionStatus = Annotated[str, VocabCode("intervention_status")]
InterventionType = Annotated[str, VocabCode("intervention_type")]
InvolvementDegree = Annotated[str, VocabCode("involvement_degree")]
IpConsistency = Annotated[str, VocabCode("ip_consistency")]
IpDuration = Annotated[str, VocabCode("ip_duration")]
IpFrequency = Annotated[str, VocabCode("ip_frequency")]
IpObject = Annotated[str, VocabCode("ip_object")]
IpPosition = Annotated[str, VocabCode("ip_position")]
LegalBasis = Annotated[str, VocabCode("legal_basis")]
ListDesignation = Annotated[str, VocabCode("list_designation")]
MaterialType = Annotated[str, VocabCode("material_type")]
MedicalAttention = Annotated[str, VocabCode("medical_attention")]
PerpetratorType = Annotated[str, VocabCode("perpetrator_type")]
PoliticalPrisonerRecogniser = Annotated[str, VocabCode("political_prisoner_recogniser")]
Priority = Annotated[str, VocabCode("priority")]
PsychSequela = Annotated[str, VocabCode("psych_sequela")]
Region = Annotated[str, VocabCode("region")]
RelationshipType = Annotated[str, VocabCode("relationship_type")]
Reliability = Annotated[str, VocabCode("reliability")]
Sex = Annotated[str, VocabCode("sex")]
SourceConnection = Annotated[str, VocabCode("source_connection")]
StatementSigned = Annotated[str, VocabCode("statement_signed")]
StatusAtEnd = Annotated[str, VocabCode("status_at_end")]
TortureMethod = Annotated[str, VocabCode("torture_method")]
UrgencyReason = Annotated[str, VocabCode("urgency_reason")]
VictimCharacteristic = Annotated[str, VocabCode("victim_characteristic")]
WgadCategory = Annotated[str, VocabCode("wgad_category")]
Whereabouts = Annotated[str, VocabCode("whereabouts")]
