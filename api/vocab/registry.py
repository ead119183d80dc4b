"""Controlled vocabularies: typed loading, validation at load, cached lookups.

Each vocabulary is one JSON file shipped in ``api/vocab/data/<id>.json``::

    {"id": "act_type", "version": 1, "name": {"en": ..., "be": ..., "ru": ..., "uk": ...},
     "source": "HURIDOCS ESF Micro-thesaurus 4 ...", "hierarchical": false,
     "terms": [{"code": "arrest", "huri_code": "030101000000",
                "labels": {"en": "Arrest", "be": "Затрыманне", "ru": ..., "uk": ...},
                "parent": null, "local": false, "deprecated": false,
                "replaces": [], "notes": "optional, English, for coders"}]}

A vocabulary may declare ``attributes``: the ids of other vocabularies whose codes each of
its terms carries (``facility`` gives every named facility its ``region`` and
``facility_type``), so a count by named facility can be rolled up by oblast or type
without a second list to keep in step. Each attribute value must be a code of the
vocabulary it names; this is checked when all files are loaded.

``code`` is what the database stores and never changes once shipped: lowercase snake_case,
except ISO 3166-2 subdivision codes (``BY-HM``), which keep their standard form. A term is
retired by setting ``deprecated`` (stored data keeps validating as a known code, new input
is refused), never by deleting or renaming it. ``huri_code`` is the 12-digit HURIDOCS
Micro-thesaurus code where one exists. ``local`` marks terms Dokaz added for Belarus.
``replaces`` names older terms this one supersedes (e.g. a renumbered CAO article), so
statistics can join the two. Hierarchies are at most two levels deep (Uwazi's limit).

Every rule is checked when the files are loaded; a broken file stops the application at
startup with a ``VocabularyError`` naming the file and the term, rather than letting bad
codes into the database.

Validating input in other features::

    from typing import Annotated
    from api.vocab.registry import VocabCode

    class ActIn(BaseModel):
        act_type: Annotated[str, VocabCode("act_type")]
        methods: list[Annotated[str, VocabCode("torture_method")]] = []
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

Language = Literal["en", "be", "ru", "uk"]
LANGUAGES: tuple[Language, ...] = get_args(Language)

DATA_PACKAGE = "api.vocab.data"
# snake_case with single underscores, or an ISO 3166-2 subdivision code such as BY-HM.
CODE_PATTERN = r"^(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)*|[A-Z]{2}-[A-Z0-9]{1,3})$"
MAX_CODE_LENGTH = 40

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN, max_length=MAX_CODE_LENGTH)]
HuriCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]


class VocabularyError(ValueError):
    """A vocabulary data file is missing, unreadable or breaks a rule."""


class UnknownVocabulary(LookupError):
    """No vocabulary has this id (a programming error when it comes from code)."""


class UnknownTerm(LookupError):
    """The vocabulary has no term with this code."""


class Labels(BaseModel):
    """One label per supported language; all four are required and non-empty."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    en: Text
    be: Text
    ru: Text
    uk: Text

    def get(self, lang: Language) -> str:
        return str(getattr(self, lang))


VocabId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class Term(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Code
    huri_code: HuriCode | None = None
    labels: Labels
    parent: Code | None = None
    local: bool = False
    deprecated: bool = False
    replaces: tuple[Code, ...] = ()
    notes: Text | None = None
    # Vocabulary id -> code of that vocabulary (see the module docstring).
    attributes: dict[VocabId, Code] = Field(default_factory=dict)


class Vocabulary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: VocabId
    version: int = Field(ge=1)
    name: Labels
    source: Text
    hierarchical: bool
    notes: Text | None = None
    attributes: tuple[VocabId, ...] = ()
    terms: tuple[Term, ...] = Field(min_length=1)

    _by_code: dict[str, Term] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_terms(self) -> Vocabulary:
        by_code: dict[str, Term] = {}
        for term in self.terms:
            if term.code in by_code:
                raise ValueError(f"duplicate code {term.code!r}")
            by_code[term.code] = term
        huri_seen: dict[str, str] = {}
        labels_seen: dict[tuple[str, str], str] = {}
        for term in self.terms:
            self._check_parent(term, by_code)
            undeclared = set(term.attributes) - set(self.attributes)
            if undeclared:
                raise ValueError(f"term {term.code!r} has undeclared attributes "
                                 f"{sorted(undeclared)}")
            for old in term.replaces:
                if old == term.code or old not in by_code:
                    raise ValueError(f"term {term.code!r} replaces unknown code {old!r}")
            if term.huri_code is not None:
                if term.huri_code in huri_seen:
                    raise ValueError(f"terms {huri_seen[term.huri_code]!r} and {term.code!r} "
                                     f"share huri_code {term.huri_code}")
                huri_seen[term.huri_code] = term.code
            # The same label twice in one language would make a form or a chart ambiguous.
            for lang in LANGUAGES:
                key = (lang, term.labels.get(lang).casefold())
                if key in labels_seen:
                    raise ValueError(f"terms {labels_seen[key]!r} and {term.code!r} have the "
                                     f"same {lang} label")
                labels_seen[key] = term.code
        self._by_code = by_code
        return self

    def _check_parent(self, term: Term, by_code: Mapping[str, Term]) -> None:
        if term.parent is None:
            return
        if not self.hierarchical:
            raise ValueError(f"term {term.code!r} has a parent but the vocabulary is not "
                             "hierarchical")
        parent = by_code.get(term.parent)
        if parent is None:
            raise ValueError(f"term {term.code!r} has unknown parent {term.parent!r}")
        if parent.parent is not None:
            raise ValueError(f"term {term.code!r} is nested more than two levels deep")

    def term(self, code: str) -> Term:
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownTerm(f"vocabulary {self.id!r} has no term {code!r}") from None

    def has(self, code: str) -> bool:
        return code in self._by_code

    def children(self, code: str) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.parent == code)

    def current_code(self, code: str) -> str:
        """The code that supersedes ``code`` (via ``replaces``), or ``code`` itself."""
        for term in self.terms:
            if code in term.replaces:
                return term.code
        return code


def _describe(exc: ValidationError, raw: Any) -> str:
    """Readable error list; term positions are shown with their code when there is one."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        where = ""
        for i, part in enumerate(loc):
            if isinstance(part, int):
                where += f"[{part}]"
                if i > 0 and loc[i - 1] == "terms":
                    code = _term_code(raw, part)
                    where += f" ({code})" if code else ""
            else:
                where += ("." if where else "") + str(part)
        parts.append(f"{where or 'file'}: {err['msg']}")
    return "; ".join(parts)


def _term_code(raw: Any, index: int) -> str | None:
    try:
        code = raw["terms"][index]["code"]
    except (KeyError, IndexError, TypeError):
        return None
    return code if isinstance(code, str) else None


def load_vocabularies(directory: Traversable | None = None) -> dict[str, Vocabulary]:
    """Load and validate every ``*.json`` file in ``directory`` (default: shipped data)."""
    root = directory if directory is not None else files(DATA_PACKAGE)
    found: dict[str, Vocabulary] = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        try:
            raw = json.loads(entry.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VocabularyError(f"{entry.name}: not valid UTF-8 JSON ({exc})") from None
        try:
            vocab = Vocabulary.model_validate(raw)
        except ValidationError as exc:
            raise VocabularyError(f"{entry.name}: {_describe(exc, raw)}") from None
        if entry.name != f"{vocab.id}.json":
            raise VocabularyError(f"{entry.name}: file name does not match id {vocab.id!r}")
        found[vocab.id] = vocab
    if not found:
        raise VocabularyError("no vocabulary files found")
    _check_attributes(found)
    return found


def _check_attributes(found: Mapping[str, Vocabulary]) -> None:
    """Every attribute names a loaded vocabulary and one of its current codes."""
    for vocab in found.values():
        for target in vocab.attributes:
            if target not in found:
                raise VocabularyError(f"{vocab.id}.json: attribute {target!r} is not a "
                                      "vocabulary")
        for term in vocab.terms:
            for target, code in term.attributes.items():
                other = found[target]
                if not other.has(code) or other.term(code).deprecated:
                    raise VocabularyError(f"{vocab.id}.json: term {term.code!r} has "
                                          f"{target} {code!r}, not a current code of it")


@cache
def _registry() -> Mapping[str, Vocabulary]:
    return MappingProxyType(load_vocabularies())


def get_vocabulary(vocab_id: str) -> Vocabulary:
    try:
        return _registry()[vocab_id]
    except KeyError:
        raise UnknownVocabulary(f"no vocabulary {vocab_id!r}") from None


def all_vocabularies() -> tuple[Vocabulary, ...]:
    """Every shipped vocabulary, ordered by id."""
    return tuple(_registry().values())


def is_valid(vocab_id: str, code: str, *, allow_deprecated: bool = False) -> bool:
    """May ``code`` be entered now? Deprecated codes are refused unless allowed.

    An unknown ``vocab_id`` raises ``UnknownVocabulary``: it is a bug, not bad input.
    """
    vocab = get_vocabulary(vocab_id)
    if not vocab.has(code):
        return False
    return allow_deprecated or not vocab.term(code).deprecated


def codes(vocab_id: str, *, include_deprecated: bool = False) -> frozenset[str]:
    return frozenset(
        t.code for t in get_vocabulary(vocab_id).terms if include_deprecated or not t.deprecated
    )


def label(vocab_id: str, code: str, lang: Language = "en") -> str:
    """The label of a stored code (deprecated ones included); ``UnknownTerm`` if none."""
    return get_vocabulary(vocab_id).term(code).labels.get(lang)


@dataclass(frozen=True, slots=True)
class VocabCode:
    """Pydantic annotation: the string must be a current code of one vocabulary.

    ``Annotated[str, VocabCode("region")]``. A typo in the vocabulary id fails when the
    schema module is imported. The error message names the vocabulary, never the input
    (which could be testimony typed into the wrong field). The JSON schema lists the codes.
    """

    vocab_id: str
    allow_deprecated: bool = False

    def __post_init__(self) -> None:
        get_vocabulary(self.vocab_id)

    def __get_pydantic_core_schema__(
        self, source_type: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._validate, handler(source_type))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        allowed = codes(self.vocab_id, include_deprecated=self.allow_deprecated)
        json_schema["enum"] = sorted(allowed)
        json_schema["x-vocabulary"] = self.vocab_id
        return json_schema

    def _validate(self, value: str) -> str:
        if not is_valid(self.vocab_id, value, allow_deprecated=self.allow_deprecated):
            raise PydanticCustomError(
                "vocabulary_code",
                "Not a code of the '{vocabulary}' vocabulary "
                "(see /api/v1/vocabularies/{vocabulary}).",
                {"vocabulary": self.vocab_id},
            )
        return value
