"""Select and checkbox options for the form, from the shared vocabularies.

Codes and their be/ru/uk/en labels belong to :mod:`api.vocab` (one source for the form,
the API and statistics). A form offers only the codes the intake schema accepts, so a
person can never pick an option that the submission would then refuse; the filter is
computed from the schema's own types, not written out here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import get_args

from api.intake import schemas
from api.vocab import registry

# Form field -> (vocabulary id, the intake schema's type for the field).
FIELDS: dict[str, tuple[str, object]] = {
    "role": ("submitter_role", schemas.ReporterRole),
    "categories": ("incident_category", schemas.ActCategory),
    "region": ("region", schemas.Region),
    "facility_type": ("facility_type", schemas.FacilityType),
    "consent": ("consent_scope", schemas.ConsentScope),
}
# Not offered as a choice: "unknown" is what an empty select means, and handling by our
# staff is what sending the form means (the form says so next to the button).
IMPLIED = frozenset({"unknown", "internal_handling"})


@dataclass(frozen=True)
class Option:
    code: str
    label: str


@cache
def codes(field: str) -> tuple[str, ...]:
    vocab_id, schema_type = FIELDS[field]
    accepted = set(get_args(schema_type))
    vocabulary = registry.get_vocabulary(vocab_id)
    return tuple(
        term.code for term in vocabulary.terms
        if term.code in accepted and term.code not in IMPLIED and not term.deprecated
        and term.parent is None
    )


def options(field: str, lang: str) -> list[Option]:
    vocab_id, _ = FIELDS[field]
    return [Option(code, registry.label(vocab_id, code, lang)) for code in codes(field)]  # type: ignore[arg-type]


def is_valid(field: str, code: str) -> bool:
    return code in codes(field)
