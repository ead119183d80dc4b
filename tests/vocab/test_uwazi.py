"""Uwazi thesaurus export: Uwazi's shape, two levels, our codes as value ids."""

from __future__ import annotations

from typing import Any

import pytest

from api.vocab.registry import LANGUAGES, Language, all_vocabularies, get_vocabulary
from api.vocab.uwazi import to_uwazi


def _dump(vocab_id: str, lang: Language) -> dict[str, Any]:
    return to_uwazi(get_vocabulary(vocab_id), lang).model_dump(exclude_none=True)


def _check_uwazi_shape(thesaurus: dict[str, Any]) -> list[dict[str, Any]]:
    """Mirror of Uwazi's thesaurusSchema: no extra keys, non-empty strings, two levels."""
    assert set(thesaurus) == {"name", "values"} and thesaurus["name"]
    leaves = []
    for entry in thesaurus["values"]:
        assert set(entry) in ({"id", "label"}, {"id", "label", "values"})
        assert entry["id"] and entry["label"]
        if "values" in entry:
            assert entry["values"]
            for value in entry["values"]:
                assert set(value) == {"id", "label"} and value["id"] and value["label"]
                leaves.append(value)
        else:
            leaves.append(entry)
    labels = [e["label"] for e in thesaurus["values"]] + [
        v["label"] for e in thesaurus["values"] for v in e.get("values", [])]
    assert len(labels) == len(set(labels)), "Uwazi requires unique labels"
    return leaves


def test_flat_vocabulary() -> None:
    thesaurus = _dump("act_type", "en")
    assert thesaurus["name"] == "Act type"
    assert thesaurus["values"][0] == {"id": "arrest", "label": "Arrest"}
    assert all("values" not in entry for entry in thesaurus["values"])


def test_parents_become_groups_that_keep_the_parent_selectable() -> None:
    thesaurus = _dump("torture_method", "be")
    beating = next(e for e in thesaurus["values"] if e["id"] == "beating-group")
    assert beating == {
        "id": "beating-group", "label": "Збіццё",
        "values": [{"id": "beating", "label": "Збіццё (агульна)"},
                   {"id": "blows_with_sticks", "label": "Удары палкамі або дубінкамі"}],
    }
    assert {"id": "electric_shock", "label": "Удары электрычным токам"} in thesaurus["values"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_vocabulary_exports_every_code_once(lang: Language) -> None:
    for vocab in all_vocabularies():
        thesaurus = _dump(vocab.id, lang)
        assert thesaurus["name"] == vocab.name.get(lang)
        leaves = _check_uwazi_shape(thesaurus)
        assert sorted(v["id"] for v in leaves) == sorted(t.code for t in vocab.terms)
        by_id = {v["id"]: v["label"] for v in leaves}
        for term in vocab.terms:
            if not vocab.children(term.code):
                assert by_id[term.code] == term.labels.get(lang)
