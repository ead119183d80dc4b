"""Registry look-ups, the VocabCode annotation, and rejection of broken data files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ValidationError

from api.vocab import registry
from api.vocab.registry import (
    UnknownTerm,
    UnknownVocabulary,
    VocabCode,
    Vocabulary,
    VocabularyError,
    codes,
    get_vocabulary,
    is_valid,
    label,
    load_vocabularies,
)


def _labels(en: str) -> dict[str, str]:
    return {"en": en, "be": f"бел {en}", "ru": f"рус {en}", "uk": f"укр {en}"}


def _vocab(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "sample", "version": 1, "name": _labels("Sample"), "source": "tests",
        "hierarchical": True,
        "terms": [
            {"code": "parent", "huri_code": "010000000000", "labels": _labels("Parent")},
            {"code": "child", "huri_code": None, "labels": _labels("Child"),
             "parent": "parent"},
            {"code": "old", "labels": _labels("Old"), "deprecated": True},
            {"code": "new", "labels": _labels("New"), "replaces": ["old"]},
        ],
    }
    data.update(changes)
    return data


def _write(directory: Path, data: dict[str, Any], name: str | None = None) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / (name or f"{data['id']}.json")).write_text(
        json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return directory


def _load_error(tmp_path: Path, data: dict[str, Any]) -> str:
    with pytest.raises(VocabularyError) as info:
        load_vocabularies(_write(tmp_path / "data", data))
    return str(info.value)


@pytest.fixture
def sample_registry(monkeypatch: pytest.MonkeyPatch) -> Vocabulary:
    vocab = Vocabulary.model_validate(_vocab())
    monkeypatch.setattr(registry, "_registry", lambda: {"sample": vocab})
    return vocab


def test_a_valid_file_loads(tmp_path: Path) -> None:
    loaded = load_vocabularies(_write(tmp_path / "data", _vocab()))
    assert [t.code for t in loaded["sample"].terms] == ["parent", "child", "old", "new"]


def test_duplicate_code_is_rejected(tmp_path: Path) -> None:
    data = _vocab()
    data["terms"].append({"code": "child", "labels": _labels("Another")})
    assert "sample.json" in (msg := _load_error(tmp_path, data))
    assert "duplicate code 'child'" in msg


def test_missing_label_is_rejected_naming_the_term(tmp_path: Path) -> None:
    data = _vocab()
    del data["terms"][1]["labels"]["be"]
    msg = _load_error(tmp_path, data)
    assert "terms[1] (child).labels.be" in msg and "Field required" in msg


def test_blank_label_is_rejected(tmp_path: Path) -> None:
    data = _vocab()
    data["terms"][0]["labels"]["uk"] = "   "
    assert "terms[0] (parent).labels.uk" in _load_error(tmp_path, data)


def test_dangling_parent_is_rejected(tmp_path: Path) -> None:
    data = _vocab()
    data["terms"][1]["parent"] = "nowhere"
    assert "unknown parent 'nowhere'" in _load_error(tmp_path, data)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d.update(hierarchical=False), "not hierarchical"),
    (lambda d: d["terms"].append({"code": "grandchild", "labels": _labels("Grandchild"),
                                  "parent": "child"}), "more than two levels"),
    (lambda d: d["terms"][0].update(huri_code="12345"), "terms[0] (parent).huri_code"),
    (lambda d: d["terms"][1].update(huri_code="01000000000x"), "terms[1] (child).huri_code"),
    (lambda d: d["terms"][0].update(code="Parent Term"), "terms[0] (Parent Term).code"),
    (lambda d: d["terms"][3].update(replaces=["gone"]), "replaces unknown code 'gone'"),
    (lambda d: d["terms"][1]["labels"].update(ru="рус Parent"), "same ru label"),
    (lambda d: d["terms"][1].update(huri_code="010000000000"), "share huri_code"),
    (lambda d: d["terms"][0].update(colour="red"), "Extra inputs are not permitted"),
    (lambda d: d.update(terms=[]), "terms"),
])
def test_rule_violations_are_rejected(tmp_path: Path, change: Any, expected: str) -> None:
    data = copy.deepcopy(_vocab())
    change(data)
    assert expected in _load_error(tmp_path, data)


def test_file_name_must_match_id(tmp_path: Path) -> None:
    with pytest.raises(VocabularyError, match="does not match id 'sample'"):
        load_vocabularies(_write(tmp_path / "data", _vocab(), name="other.json"))


def test_invalid_json_and_empty_directory_are_rejected(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    directory.mkdir()
    with pytest.raises(VocabularyError, match="no vocabulary files"):
        load_vocabularies(directory)
    (directory / "broken.json").write_text('{"id": ', encoding="utf-8")
    with pytest.raises(VocabularyError, match=r"broken\.json: not valid UTF-8 JSON"):
        load_vocabularies(directory)


def _with_attributes(**term_attributes: str) -> tuple[dict[str, Any], dict[str, Any]]:
    place = _vocab(id="place", hierarchical=False, attributes=["sample"], terms=[
        {"code": "here", "labels": _labels("Here"), "attributes": term_attributes}])
    return place, _vocab()


def test_attributes_name_codes_of_another_vocabulary(tmp_path: Path) -> None:
    place, sample = _with_attributes(sample="new")
    directory = _write(_write(tmp_path / "data", sample), place)
    assert load_vocabularies(directory)["place"].term("here").attributes == {"sample": "new"}


@pytest.mark.parametrize(("attributes", "expected"), [
    ({"sample": "gone"}, "term 'here' has sample 'gone', not a current code"),
    ({"sample": "old"}, "term 'here' has sample 'old', not a current code"),  # deprecated
    ({"colour": "red"}, "undeclared attributes ['colour']"),
])
def test_attributes_are_checked_across_files(tmp_path: Path, attributes: dict[str, str],
                                             expected: str) -> None:
    place, sample = _with_attributes(**attributes)
    with pytest.raises(VocabularyError) as info:
        load_vocabularies(_write(_write(tmp_path / "data", sample), place))
    assert expected in str(info.value) and "place.json" in str(info.value)


def test_an_attribute_must_be_a_vocabulary(tmp_path: Path) -> None:
    place, _ = _with_attributes()
    place["attributes"] = ["nowhere"]
    with pytest.raises(VocabularyError, match="attribute 'nowhere' is not a vocabulary"):
        load_vocabularies(_write(tmp_path / "data", place))


def test_lookups_on_shipped_data() -> None:
    assert is_valid("act_type", "arrest")
    assert not is_valid("act_type", "Arrest")
    assert not is_valid("act_type", "beating")
    assert "beating" in codes("torture_method")
    assert label("perpetrator_type", "omon", "ru").startswith("ОМОН")
    with pytest.raises(UnknownVocabulary):
        is_valid("no_such_vocabulary", "arrest")
    with pytest.raises(UnknownTerm):
        label("act_type", "no_such_code", "en")


def test_deprecated_codes_stay_readable_but_cannot_be_entered(
    sample_registry: Vocabulary,
) -> None:
    assert not is_valid("sample", "old")
    assert is_valid("sample", "old", allow_deprecated=True)
    assert codes("sample") == {"parent", "child", "new"}
    assert "old" in codes("sample", include_deprecated=True)
    assert label("sample", "old", "be") == "бел Old"
    assert get_vocabulary("sample").current_code("old") == "new"


class _Form(BaseModel):
    act_type: Annotated[str, VocabCode("act_type")]
    region: Annotated[str, VocabCode("region")] | None = None
    methods: list[Annotated[str, VocabCode("torture_method")]] = []


def test_vocab_code_annotation_accepts_codes() -> None:
    form = _Form(act_type="arrest", region="BY-HR", methods=["beating", "blows_with_sticks"])
    assert form.methods == ["beating", "blows_with_sticks"]


def test_vocab_code_annotation_rejects_without_echoing_input() -> None:
    secret = "they beat my brother at Akrestsina"
    with pytest.raises(ValidationError) as info:
        _Form(act_type="arrest", methods=["beating", secret])
    errors = info.value.errors(include_input=False)
    assert [(e["loc"], e["type"]) for e in errors] == [(("methods", 1), "vocabulary_code")]
    assert "torture_method" in errors[0]["msg"]
    assert secret not in errors[0]["msg"]
    with pytest.raises(ValidationError):
        _Form(act_type=42)


def test_vocab_code_json_schema_lists_the_codes() -> None:
    schema = _Form.model_json_schema()
    act = schema["properties"]["act_type"]
    assert act["x-vocabulary"] == "act_type"
    assert set(act["enum"]) == codes("act_type")


def test_vocab_code_with_unknown_vocabulary_fails_at_definition() -> None:
    with pytest.raises(UnknownVocabulary):
        VocabCode("act_typo")


def test_vocab_code_respects_deprecation(sample_registry: Vocabulary) -> None:
    class Strict(BaseModel):
        value: Annotated[str, VocabCode("sample")]

    class Lenient(BaseModel):
        value: Annotated[str, VocabCode("sample", allow_deprecated=True)]

    with pytest.raises(ValidationError):
        Strict(value="old")
    assert Lenient(value="old").value == "old"
