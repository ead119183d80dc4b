"""Read-side of the vocabulary API: look-ups for routes, mapped to domain errors."""

from __future__ import annotations

from api.core.errors import NotFound
from api.vocab.registry import (
    Language,
    UnknownVocabulary,
    Vocabulary,
    all_vocabularies,
    get_vocabulary,
)
from api.vocab.schemas import TermOut, VocabularyList, VocabularyOut, VocabularySummary


def vocabulary_or_404(vocab_id: str) -> Vocabulary:
    try:
        return get_vocabulary(vocab_id)
    except UnknownVocabulary:
        raise NotFound(
            "There is no vocabulary with this id; GET /api/v1/vocabularies lists them.",
            details={"available": [v.id for v in all_vocabularies()]},
        ) from None


def list_vocabularies() -> VocabularyList:
    return VocabularyList(vocabularies=[
        VocabularySummary(id=v.id, version=v.version, name=v.name, source=v.source,
                          hierarchical=v.hierarchical, term_count=len(v.terms))
        for v in all_vocabularies()
    ])


def localized(vocab: Vocabulary, lang: Language) -> VocabularyOut:
    return VocabularyOut(
        id=vocab.id, version=vocab.version, lang=lang, name=vocab.name.get(lang),
        source=vocab.source, hierarchical=vocab.hierarchical,
        terms=[
            TermOut(code=t.code, huri_code=t.huri_code, label=t.labels.get(lang),
                    parent=t.parent, local=t.local, deprecated=t.deprecated,
                    replaces=list(t.replaces), notes=t.notes,
                    attributes=dict(t.attributes))
            for t in vocab.terms
        ],
    )
