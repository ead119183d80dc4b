"""Public, unauthenticated read API for the controlled vocabularies.

Vocabularies hold no case data, so anyone (the public web form, partners, other tools)
may read them. They are static for a release but deliberately not marked cacheable: the
app-wide ``no-store`` policy (api.web.security) keeps a visit out of a seized phone's cache.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.core.errors import InvalidInput, NotFound, error_responses
from api.vocab import service
from api.vocab.registry import Language, all_vocabularies
from api.vocab.schemas import UwaziThesaurus, VocabularyList, VocabularyOut
from api.vocab.uwazi import to_uwazi

# Load and validate every data file when the app is built: a broken file stops startup.
all_vocabularies()

router = APIRouter(prefix="/api/v1/vocabularies", tags=["vocabularies"])

VocabId = Annotated[str, Path(max_length=64, description="Vocabulary id, e.g. act_type")]
Lang = Annotated[Language, Query(description="Label language: en, be, ru or uk")]


@router.get("", summary="List the controlled vocabularies", response_model=VocabularyList)
async def list_vocabularies() -> VocabularyList:
    return service.list_vocabularies()


@router.get(
    "/{vocab_id}",
    summary="A vocabulary's terms with labels in one language",
    response_model=VocabularyOut,
    responses=error_responses(NotFound, InvalidInput),
)
async def read_vocabulary(vocab_id: VocabId, lang: Lang = "en") -> VocabularyOut:
    vocab = service.vocabulary_or_404(vocab_id)
    return service.localized(vocab, lang)


@router.get(
    "/{vocab_id}/uwazi",
    summary="A vocabulary as an Uwazi thesaurus (JSON) in one language",
    response_model=UwaziThesaurus,
    response_model_exclude_none=True,
    responses=error_responses(NotFound, InvalidInput),
)
async def uwazi_thesaurus(vocab_id: VocabId, lang: Lang = "en") -> UwaziThesaurus:
    vocab = service.vocabulary_or_404(vocab_id)
    return to_uwazi(vocab, lang)
