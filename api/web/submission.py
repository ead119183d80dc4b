"""Turning the web form's fields into the intake feature's ``SubmissionIn``.

The web form asks in a person's terms (day, month, year; "about this person"); the intake
schema is the one definition of a submission. This module only maps one onto the other;
the schema's own validation errors are mapped back onto the form's fields.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError

from api.intake.schemas import Person, Reporter, SubmissionIn, When, Where
from api.web.forms import FieldError, ReportInput, errors_from_schema, parse_date
from api.web.i18n import N_

# Where each schema location is shown on the form.
SCHEMA_FIELDS = {
    "reporter": "role", "role": "role", "contact": "contact", "acts": "categories",
    "when": "when_year", "start": "when_year", "region": "region",
    "facility_type": "facility_type", "details": "place_details", "narrative": "narrative",
    "consent": "consent", "persons": "person_details", "name": "person_name",
    "description": "person_details",
}


class SchemaProblems(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("the form does not make a valid submission")
        self.errors = errors


def _optional(value: str) -> str | None:
    value = value.strip()
    return value or None


def to_submission(form: ReportInput, lang: str, today: date, honeypot: str = "",
                  uploads: list[str] | None = None) -> SubmissionIn:
    """The submission the form describes; raises :class:`SchemaProblems`."""
    report_date, _ = parse_date(form, today)
    persons: list[dict[str, Any]] = []
    if _optional(form.get("person_name")) or _optional(form.get("person_details")):
        persons.append({"role": "victim", "name": _optional(form.get("person_name")),
                        "description": _optional(form.get("person_details"))})
    if _optional(form.get("perpetrator_details")):
        persons.append({"role": "perpetrator",
                        "description": _optional(form.get("perpetrator_details"))})
    when = None
    if report_date is not None and report_date.start is not None:
        when = When(start=report_date.start,
                    precision="estimate" if report_date.approximate else None)
    consent = {"internal_handling": True} | {code: True for code in form.multi.get("consent", [])}
    try:
        return SubmissionIn.model_validate({
            "reporter": Reporter(role=form.get("role") or "other",
                                 name=_optional(form.get("submitter_name")),
                                 contact=_optional(form.get("contact"))),
            "acts": form.multi.get("categories", []),
            "when": when,
            "where": Where(region=form.get("region") or "unknown",
                           facility_type=form.get("facility_type") or None,
                           details=_optional(form.get("place_details"))),
            "persons": [Person.model_validate(p) for p in persons],
            "narrative": form.get("narrative"),
            "torture_risk": form.flag("torture_risk"),
            "consent": consent,
            "language": lang,
            "uploads": uploads or [],
            "website": honeypot,
        })
    except ValidationError as exc:
        problems = [dict(e) for e in exc.errors()]
        raise SchemaProblems(errors_from_schema(problems, SCHEMA_FIELDS)) from None


CONSENT_EXPLANATIONS = {
    "referral_lawyer": N_("We may pass your report to a lawyer we trust, so they can offer "
                          "legal help."),
    "referral_doctor": N_("We may pass your report to a doctor we trust, for medical help "
                          "or a medical report."),
    "share_un": N_("We may send the case to United Nations human-rights bodies. They "
                   "work confidentially."),
    "un_name_to_government": N_("A UN body may name the person when it asks the government "
                                "of Belarus about the case. Without this, UN bodies can "
                                "usually not act on an individual case."),
    "share_partner": N_("We may share the case with a human-rights organisation we work "
                        "with, under the same protection."),
    "identified_publication": N_("We may publish the case with the person's name, for "
                                 "example in a list of political prisoners."),
    "anonymised_quotes": N_("We may quote your words in public reports without any name "
                            "or detail that could identify you."),
    "aggregate_statistics": N_("The case may be counted in statistics, only in groups large "
                               "enough that nobody can be recognised."),
    "ip_medical_examination": N_("A doctor may examine the injuries and write a medical "
                                 "report under the Istanbul Protocol."),
    "contact_back": N_("We may contact you using the way you gave above."),
    "photo_media_use": N_("We may use the photos or videos you send in public reports, "
                          "after removing what could identify you."),
}
