"""The published submission schema, ``dokaz.submission/1``, and the receipt response.

``GET /api/v1/submissions/schema`` serves :func:`submission_json_schema`. The schema is
versioned by its ``schema`` field: a change that rejects documents valid today gets a
new number, and the old one keeps being accepted while clients move.

What stays plaintext (copied to coarse columns, see the threat model): the reporter's
role, the act categories, region, facility type, the start month and its precision, the
urgency flags, the granted consent scopes and the language. Everything else - names,
contacts, places, the narrative - is only ever stored sealed with the case key.

Field ``website`` is a honeypot: people never see it (the HTML form hides it), and the
schema describes it only as "leave empty". See :mod:`api.intake.service`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.ingress.schemas import FileOut
from api.vocab.registry import VocabCode, get_vocabulary

SCHEMA_ID = "dokaz.submission/1"
SCHEMA_VERSION = 1

# Coded fields take the shared vocabularies' codes (api/vocab/data), the same codes the
# case metadata, the web form and the statistics use: one source, no translation tables.
ReporterRole = Annotated[str, VocabCode("submitter_role")]
ActCategory = Annotated[str, VocabCode("incident_category")]
DatePrecision = Annotated[str, VocabCode("date_precision")]
Region = Annotated[str, VocabCode("region")]
FacilityType = Annotated[str, VocabCode("facility_type")]
# Roles of persons in a report: who they are to the events, not a vocabulary term.
PersonRole = Literal["victim", "relative", "witness", "perpetrator", "lawyer", "other"]
Sex = Annotated[str, VocabCode("sex")]
AgeBand = Annotated[str, VocabCode("age_band")]
Language = Literal["be", "ru", "uk", "en"]
ConsentScope = Annotated[str, VocabCode("consent_scope")]
# In the vocabulary's own order, so stored scope lists read the same everywhere.
CONSENT_SCOPES: tuple[str, ...] = tuple(
    t.code for t in get_vocabulary("consent_scope").terms if not t.deprecated
)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Short = Annotated[str, Field(max_length=500)]
Long = Annotated[str, Field(max_length=200_000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        # Tabs and newlines are fine in prose; other control characters never are.
        if isinstance(value, str) and _CONTROL.search(value):
            raise ValueError("contains control characters")
        return value


class Reporter(_Model):
    role: ReporterRole
    name: Short | None = None
    contact: Short | None = Field(
        default=None, description="How we may reach you safely (only if you want)."
    )
    relationship: Short | None = Field(default=None, description="e.g. 'mother of the victim'")


PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


class When(_Model):
    start: str = Field(description="YYYY-MM-DD, YYYY-MM or YYYY", examples=["2025-03"])
    precision: DatePrecision | None = Field(
        default=None, description="Inferred from the form of 'start' when left out."
    )
    end: str | None = None
    ongoing: bool = False

    @field_validator("start", "end")
    @classmethod
    def _partial_date(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not PARTIAL_DATE.fullmatch(value):
            raise ValueError("use YYYY-MM-DD, YYYY-MM or YYYY")
        earliest_date(value)  # checks month and day ranges
        if earliest_date(value) > date.today():
            raise ValueError("lies in the future")
        return value

    @model_validator(mode="after")
    def _precision(self) -> When:
        implied = {10: "exact", 7: "unknown_day", 4: "unknown_month_day"}[len(self.start)]
        if self.precision is None:
            self.precision = implied
        elif self.precision != "estimate" and self.precision != implied:
            raise ValueError("precision does not match the form of 'start'")
        if self.end is not None and latest_date(self.end) < earliest_date(self.start):
            raise ValueError("'end' is before 'start'")
        return self

    @property
    def start_month(self) -> str | None:
        return self.start[:7] if len(self.start) >= 7 else None


def earliest_date(value: str) -> date:
    parts = [int(p) for p in value.split("-")]
    return date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)


def latest_date(value: str) -> date:
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        return date(*parts)
    month = parts[1] if len(parts) > 1 else 12
    nxt = date(parts[0] + (month == 12), month % 12 + 1, 1)
    return date.fromordinal(nxt.toordinal() - 1)


class Where(_Model):
    region: Region = "unknown"
    facility_type: FacilityType | None = None
    details: Long | None = Field(default=None, description="Place names, addresses.")


class Person(_Model):
    """Everything is optional: give only what is safe to give."""

    role: PersonRole = "victim"
    name: Short | None = None
    other_names: Short | None = None
    date_of_birth: Short | None = None
    sex: Sex | None = None
    age_band: AgeBand | None = None
    citizenship: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    id_number: Short | None = None
    address: Short | None = None
    phone: Short | None = None
    email: Short | None = None
    description: Long | None = None
    health: Long | None = None
    still_detained: bool | None = None
    whereabouts_unknown: bool | None = None


class SubmissionIn(_Model):
    """A report, as JSON (``application/json``) or as the ``submission`` part of a form."""

    schema_: Literal["dokaz.submission/1"] = Field(default="dokaz.submission/1", alias="schema")
    reporter: Reporter
    acts: list[ActCategory] = Field(min_length=1, max_length=4)
    when: When | None = None
    where: Where = Field(default_factory=Where)
    persons: list[Person] = Field(default_factory=list, max_length=50)
    narrative: Long = Field(min_length=1)
    torture_risk: bool = Field(
        default=False, description="Someone is at risk of torture or ill-treatment now."
    )
    consent: dict[ConsentScope, bool] = Field(
        description="Consent per scope; internal_handling must be true."
    )
    language: Language
    uploads: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=100,
        description="URLs or ids of finished resumable uploads (tus) to attach.",
    )
    website: Annotated[str, Field(max_length=500)] = Field(
        default="", description="Leave empty."
    )

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    @field_validator("acts")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("consent")
    @classmethod
    def _internal_handling(cls, value: dict[str, bool]) -> dict[str, bool]:
        if not value.get("internal_handling"):
            raise ValueError(
                "we can only accept a report you allow us to handle (internal_handling: true)"
            )
        return value

    @property
    def granted_scopes(self) -> list[str]:
        return [s for s in CONSENT_SCOPES if self.consent.get(s)]

    def sealed_payload(self) -> dict[str, Any]:
        """What is sealed under the case key: the whole report minus transport fields."""
        return self.model_dump(mode="json", by_alias=True, exclude={"uploads", "website"})


class FollowupIn(_Model):
    """Information a submitter adds to their case later (``POST /api/v1/followup/additions``)."""

    narrative: Long | None = None
    persons: list[Person] = Field(default_factory=list, max_length=50)
    uploads: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=100
    )


class SubmissionOut(BaseModel):
    receipt: str | None = Field(
        description="Keep it secret and safe: it is the only way back to your report. "
        "null when the report was received before under the same Idempotency-Key "
        "(already_received): a receipt is shown once, in the first answer, and is not "
        "stored to be shown again."
    )
    reference: str = Field(description="Public case reference, safe to quote.")
    files: list[FileOut] = Field(description="The files received; empty when "
                                 "already_received (see the first answer).")
    already_received: bool = Field(default=False, description=(
        "true: this report was received before under the same Idempotency-Key; "
        "nothing new was filed (HTTP 200 instead of 201)."))
    followup_url: str = "/api/v1/followup/session"


def submission_json_schema() -> dict[str, Any]:
    schema = SubmissionIn.model_json_schema(by_alias=True)
    schema["$id"] = SCHEMA_ID
    schema["title"] = "Dokaz submission, version 1"
    return schema
