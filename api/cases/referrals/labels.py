"""Vocabulary labels in the draft languages.

The vocabularies carry en, be, ru and uk; the referral drafts are also filed in French and
Spanish (the Working Groups' working languages), whose labels for the terms a draft prints
live in ``data/labels_fr_es.json`` (kept complete by tests/cases/referrals).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from api.cases.referrals.catalog import DraftLanguage
from api.vocab.registry import LANGUAGES, label


@cache
def fr_es_labels() -> dict[str, dict[str, dict[str, str]]]:
    text = resources.files("api.cases.referrals").joinpath("data/labels_fr_es.json").read_text(
        encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    data.pop("_comment", None)
    return data


def vocab_label(vocab: str, code: str, lang: DraftLanguage) -> str:
    """The label of ``code`` in ``lang``; English if French or Spanish is still missing
    (a test keeps the catalogue complete for :data:`PRINTED_VOCABULARIES`)."""
    if lang in LANGUAGES:
        return label(vocab, code, lang)
    entry = fr_es_labels().get(vocab, {}).get(code)
    return entry[lang] if entry and lang in entry else label(vocab, code, "en")
