"""Response bodies of the public vocabulary API, including the Uwazi thesaurus shape."""

from __future__ import annotations

from pydantic import BaseModel

from api.vocab.registry import Labels, Language


class VocabularySummary(BaseModel):
    id: str
    version: int
    name: Labels
    source: str
    hierarchical: bool
    term_count: int


class VocabularyList(BaseModel):
    vocabularies: list[VocabularySummary]


class TermOut(BaseModel):
    code: str
    huri_code: str | None
    label: str
    parent: str | None
    local: bool
    deprecated: bool
    replaces: list[str]
    notes: str | None
    # Codes of other vocabularies this term carries, e.g. a facility's region and type.
    attributes: dict[str, str] = {}


class VocabularyOut(BaseModel):
    id: str
    version: int
    lang: Language
    name: str
    source: str
    hierarchical: bool
    terms: list[TermOut]


# Uwazi (huridocs/uwazi, thesaurusSchema): {name, values: [{id, label, values?}]},
# two levels; nothing else is allowed on a value, so HURIDOCS codes are not carried.
class UwaziValue(BaseModel):
    id: str
    label: str


class UwaziEntry(BaseModel):
    id: str
    label: str
    values: list[UwaziValue] | None = None


class UwaziThesaurus(BaseModel):
    name: str
    values: list[UwaziEntry]
