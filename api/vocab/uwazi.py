"""Export of a vocabulary as an Uwazi thesaurus, one language per export.

Uwazi thesauri are ``{"name": ..., "values": [{"id", "label", "values"?}]}`` with at most
two levels, where an entry that has ``values`` is a group heading and cannot itself be
selected. Our parents are selectable codes (``beating`` as well as ``blows_with_sticks``),
so a parent becomes a group with the id ``<code>-group`` (a hyphenated suffix no code can
have) whose first value is the parent itself, labelled "... (general)". Every selectable
value keeps our ``code`` as its id, so partners can map Dokaz exports onto the thesaurus
without a lookup table. Deprecated terms are included: data coded with them may still be
exported.
"""

from __future__ import annotations

from api.vocab.registry import Language, Vocabulary
from api.vocab.schemas import UwaziEntry, UwaziThesaurus, UwaziValue

GROUP_SUFFIX = "-group"
GENERAL: dict[Language, str] = {"en": "general", "be": "агульна", "ru": "в целом",
                                "uk": "загалом"}


def to_uwazi(vocab: Vocabulary, lang: Language) -> UwaziThesaurus:
    values: list[UwaziEntry] = []
    for term in vocab.terms:
        if term.parent is not None:
            continue  # emitted inside its parent's group
        label = term.labels.get(lang)
        children = vocab.children(term.code)
        if not children:
            values.append(UwaziEntry(id=term.code, label=label))
            continue
        group = [UwaziValue(id=term.code, label=f"{label} ({GENERAL[lang]})")]
        group += [UwaziValue(id=c.code, label=c.labels.get(lang)) for c in children]
        values.append(UwaziEntry(id=term.code + GROUP_SUFFIX, label=label, values=group))
    return UwaziThesaurus(name=vocab.name.get(lang), values=values)
