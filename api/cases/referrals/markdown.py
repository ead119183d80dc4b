"""A referral draft (see :mod:`api.cases.referrals.drafts`) as a readable Markdown document.

Field names are translated here (en, be, ru, uk); values are already labels in the chosen
language or what staff wrote. Markdown control characters in values are escaped so text
from a submission cannot restructure the document.
"""

from __future__ import annotations

import re
from typing import Any

from api.vocab.registry import Language

# key: (en, be, ru, uk)
_T: dict[str, tuple[str, str, str, str]] = {
    "title_wgeid": ("Draft communication to the WGEID", "Праект паведамлення ў WGEID",
                    "Проект сообщения в WGEID", "Проєкт повідомлення до WGEID"),
    "title_wgad": ("Draft communication to the WGAD", "Праект паведамлення ў WGAD",
                   "Проект сообщения в WGAD", "Проєкт повідомлення до WGAD"),
    "addressee": ("Addressee", "Адрасат", "Адресат", "Адресат"),
    "case_reference": ("Our reference", "Наш нумар", "Наш номер", "Наш номер"),
    "procedure": ("Procedure", "Працэдура", "Процедура", "Процедура"),
    "missing": ("Still to complete", "Трэба дапоўніць", "Нужно дополнить", "Потрібно доповнити"),
    "victim": ("Person concerned", "Асоба", "Лицо", "Особа"),
    "identity": ("Identity", "Асоба", "Личность", "Особа"),
    "disappearance": ("Disappearance", "Знікненне", "Исчезновение", "Зникнення"),
    "arrest": ("Arrest", "Затрыманне", "Задержание", "Затримання"),
    "detention": ("Detention", "Утрыманне пад вартай", "Содержание под стражей",
                  "Тримання під вартою"),
    "arbitrariness": ("Why the detention is arbitrary", "Чаму пазбаўленне волі адвольнае",
                      "Почему лишение свободы произвольно", "Чому позбавлення волі свавільне"),
    "steps_taken_by_relatives": ("Steps taken by relatives", "Дзеянні сваякоў",
                                 "Действия родственников", "Дії родичів"),
    "perpetrators": ("Believed responsible", "Меркаваныя вінаватыя",
                     "Предполагаемые виновные", "Імовірні винні"),
    "domestic_remedies": ("Domestic remedies", "Унутраныя сродкі абароны",
                          "Внутренние средства защиты", "Внутрішні засоби захисту"),
    "ill_treatment_reported": ("Ill-treatment reported", "Паведамлена пра жорсткае абыходжанне",
                               "Сообщается о жестоком обращении",
                               "Повідомлено про жорстоке поводження"),
    "source": ("Source", "Крыніца", "Источник", "Джерело"),
    "yes": ("yes", "так", "да", "так"),
    "no": ("no", "не", "нет", "ні"),
}
_LANG_INDEX = {"en": 0, "be": 1, "ru": 2, "uk": 3}
_MD = re.compile(r"([\\`*_{}\[\]()#+\-!|>~<])")


def t(key: str, lang: Language) -> str:
    entry = _T.get(key)
    if entry is None:
        return key.replace("_", " ").capitalize()
    return entry[_LANG_INDEX[lang]]


def _esc(value: Any, lang: Language) -> str:
    if isinstance(value, bool):
        return t("yes" if value else "no", lang)
    text = " ".join(str(value).split())  # no line breaks: one value, one line
    return _MD.sub(r"\\\1", text)


def _block(data: Any, lang: Language, depth: int) -> list[str]:
    pad = "  " * depth
    lines: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if v in (None, [], {}, ""):
                continue
            if isinstance(v, dict | list):
                lines.append(f"{pad}- **{t(k, lang)}**:")
                lines.extend(_block(v, lang, depth + 1))
            else:
                lines.append(f"{pad}- **{t(k, lang)}**: {_esc(v, lang)}")
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict):
                lines.append(f"{pad}-")
                lines.extend(_block(item, lang, depth + 1))
            else:
                lines.append(f"{pad}- {_esc(item, lang)}")
    return lines


def render_markdown(doc: dict[str, Any], lang: Language) -> str:
    lines = [f"# {t('title_' + doc['mechanism'].lower(), lang)}", ""]
    for key in ("addressee", "case_reference", "procedure"):
        if doc.get(key):
            lines.append(f"- **{t(key, lang)}**: {_esc(doc[key], lang)}")
    if doc.get("missing"):
        lines += ["", f"> **{t('missing', lang)}**: "
                  + ", ".join(_esc(m, lang) for m in doc["missing"])]
    for n, victim in enumerate(doc["victims"], start=1):
        lines += ["", f"## {t('victim', lang)} {n}"]
        for section, value in victim.items():
            if section == "person_id" or value in (None, [], {}, ""):
                continue
            lines += ["", f"### {t(section, lang)}"]
            lines += _block(value, lang, 0) if isinstance(value, dict | list) else [
                _esc(value, lang)]
    lines += ["", f"## {t('source', lang)}", "", _esc(doc["source"]["note"], lang), ""]
    return "\n".join(lines)
