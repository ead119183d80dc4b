"""A referral draft (see :mod:`api.cases.referrals.drafts`) as a Markdown document that reads
as plain text.

Field names and fixed words come from :mod:`.catalog` in the draft's language; values are
already labels in that language or what staff wrote. Only what Markdown would turn into
structure is neutralised (links, emphasis, code, HTML, and a value that starts like a
heading, quote or list item): ordinary punctuation such as ``-``, ``.``, ``(`` or ``#``
inside a value is printed as it is, so the text can be pasted into a form unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from api.cases.referrals.catalog import WORDS, DraftLanguage, word
from api.cases.referrals.labels import vocab_label

# Inline markup that would change what the reader sees: links/images, emphasis, code, HTML.
_INLINE = re.compile(r"([\\`*_\[\]<>])")
# At the start of a line these open a heading, quote, list or rule.
_LEADING = re.compile(r"^(#|>|[-+=]|\d+[.)])")
# Identifiers and codes the JSON carries for programs; the document does not print them.
_HIDDEN = frozenset({"person_id", "act_id", "code"})
_ITEM = re.compile(r"([a-z_]+)\[(\d+)\]")


def t(key: str, lang: DraftLanguage) -> str:
    return word(key, lang)


def _esc(value: Any, lang: DraftLanguage) -> str:
    if isinstance(value, bool):
        return t("yes" if value else "no", lang)
    text = " ".join(str(value).split())  # no line breaks: one value, one line
    text = _INLINE.sub(r"\\\1", text)
    return _LEADING.sub(r"\\\1", text)


def _path(path: str, lang: DraftLanguage) -> str:
    """A ``missing`` entry in words: ``detentions[1].trial.judge`` reads "Deprivation of
    liberty 2 › Trial › Judge" (in ``lang``)."""
    out: list[str] = []
    for part in path.split("."):
        match = _ITEM.fullmatch(part)
        if match:
            name = "detention_item" if match[1] == "detentions" else match[1]
            out.append(f"{t(name, lang)} {int(match[2]) + 1}")
        elif part in WORDS:
            out.append(t(part, lang))
        else:  # a WGAD category code
            out.append(vocab_label("wgad_category", part, lang).split(":")[0])
    return " › ".join(out)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _block(data: Any, lang: DraftLanguage, pad: str) -> list[str]:
    lines: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if k in _HIDDEN or _empty(v):
                continue
            if isinstance(v, dict | list):
                lines.append(f"{pad}- **{t(k, lang)}**:")
                lines.extend(_block(v, lang, pad + "  "))
            else:
                lines.append(f"{pad}- **{t(k, lang)}**: {_esc(v, lang)}")
    elif isinstance(data, list):
        for n, item in enumerate(data, start=1):
            if isinstance(item, dict):
                inner = _block(item, lang, pad + "   ")
                if inner:  # the item's first field on its number's line
                    lines.append(f"{pad}{n}. {inner[0].strip()[2:]}")
                    lines.extend(inner[1:])
            else:
                lines.append(f"{pad}- {_esc(item, lang)}")
    return lines


def _section(heading: str, value: Any, lang: DraftLanguage) -> list[str]:
    if isinstance(value, dict | list):
        return ["", heading, "", *_block(value, lang, "")]
    return ["", heading, "", _esc(value, lang)]


def render_markdown(doc: dict[str, Any], lang: DraftLanguage) -> str:
    lines = [f"# {t('title_' + doc['mechanism'].lower(), lang)}", ""]
    for key in ("addressee", "case_reference", "drafted_on"):
        if doc.get(key):
            lines.append(f"- **{t(key, lang)}**: {_esc(doc[key], lang)}")
    if doc.get("procedure"):
        lines.append(f"- **{t('procedure', lang)}**: {t(doc['procedure'], lang)}")
    if doc.get("missing"):
        lines += ["", f"> **{t('missing', lang)}**: "
                  + "; ".join(_esc(_path(m, lang), lang) for m in doc["missing"])]
    for n, victim in enumerate(doc["victims"], start=1):
        lines += ["", f"## {t('victim', lang)} {n}"]
        for section, value in victim.items():
            if section in _HIDDEN or _empty(value):
                continue
            if section == "detentions":
                for m, det in enumerate(value, start=1):
                    lines += ["", f"### {t('detention_item', lang)} {m}"]
                    for part, inner in det.items():
                        if part not in _HIDDEN and not _empty(inner):
                            lines += _section(f"#### {t(part, lang)}", inner, lang)
            else:
                lines += _section(f"### {t(section, lang)}", value, lang)
    source = doc.get("source") or {}
    lines += ["", f"## {t('source', lang)}", ""]
    lines += _block({k: v for k, v in source.items() if k != "note"}, lang, "")
    if source.get("note"):
        lines += ["", _esc(source["note"], lang)]
    lines.append("")
    return "\n".join(lines)
