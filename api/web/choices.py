"""Select and checkbox options for the form, from the shared vocabularies.

Codes and their be/ru/uk/en labels belong to :mod:`api.vocab` (one source for the form,
the API and statistics). The intake schema validates the same fields against the same
vocabularies, so every option offered here is one the submission accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from api.vocab import registry

# Form field -> vocabulary id.
FIELDS: dict[str, str] = {
    "role": "submitter_role",
    "categories": "incident_category",
    "region": "region",
    "facility_type": "facility_type",
    "consent": "consent_scope",
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
    vocabulary = registry.get_vocabulary(FIELDS[field])
    return tuple(
        term.code for term in vocabulary.terms
        if term.code not in IMPLIED and not term.deprecated and term.parent is None
    )


def options(field: str, lang: str) -> list[Option]:
    vocab_id = FIELDS[field]
    return [Option(code, registry.label(vocab_id, code, lang)) for code in codes(field)]  # type: ignore[arg-type]


def is_valid(field: str, code: str) -> bool:
    return code in codes(field)
