"""The WGAD and WGEID drafts of one realistic case, read element by element against the
Working Groups' questionnaires, in every draft language; ``missing`` on an incomplete copy.

Questionnaires: WGAD "Model questionnaire to be completed by persons alleging arbitrary
arrest or detention" (identity; arrest; detention; circumstances; why arbitrary; domestic
remedies; submitting person or organisation), WGEID "Questionnaire on enforced or
involuntary disappearances" (identity; date and place of the disappearance; forces
believed responsible; steps taken; source and consent; urgent procedure).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session

from api.cases.referrals import drafts
from api.cases.referrals.catalog import WORDS, DraftLanguage, word
from api.cases.referrals.labels import fr_es_labels, vocab_label
from api.cases.referrals.markdown import render_markdown
from api.core.settings import Settings
from api.vocab.registry import get_vocabulary
from tests.cases.factory import Staff
from tests.cases.referrals import fixture as fx

LANGS: tuple[DraftLanguage, ...] = drafts.DRAFT_LANGUAGES


def _draft(session: Session, staff: Staff, case_id: Any, mechanism: str, lang: DraftLanguage,
           today: date = fx.DRAFTED) -> dict[str, Any]:
    return drafts.draft(session, staff.p("cw"), case_id, mechanism,  # type: ignore[arg-type]
                        lang, today=today)


def _keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in _keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in _keys(v)}
    return set()


def test_every_printed_term_has_french_and_spanish() -> None:
    catalog = fr_es_labels()
    for vocab_id in drafts.PRINTED_VOCABULARIES:
        for term in get_vocabulary(vocab_id).terms:
            entry = catalog.get(vocab_id, {}).get(term.code)
            assert entry and entry.get("fr") and entry.get("es"), (vocab_id, term.code)


@pytest.mark.parametrize("lang", LANGS)
def test_wgad_against_the_questionnaire(lang: DraftLanguage, session: Session,
                                        settings: Settings, staff: Staff) -> None:
    case = fx.make(session, settings, staff)
    doc = _draft(session, staff, case.id, "wgad", lang)
    v = vocab_label
    assert doc["addressee"] == word("name_wgad", lang) and doc["missing"] == []
    [andrei] = doc["victims"]  # Pavel has no detention
    # I. Identity
    ident = andrei["identity"]
    assert (ident["name"], ident["birth_date"], ident["citizenship"]) == (
        "Andrei Kavalenka", "1993-04-14", "BY")
    assert ident["sex"] == v("sex", "male", lang) and ident["id_number"] and ident["occupation"]
    # II-III. Every deprivation of liberty, oldest first, each with its own arrest.
    first, second = andrei["detentions"]
    assert first["arrest"]["date"] == "2020-08-10"
    assert first["arrest"]["place"] == "Near Pushkinskaya metro station, Minsk"  # not the TsIP
    assert first["arrest"]["forces"] == [v("perpetrator_type", "omon", lang)]
    assert first["arrest"]["warrant_shown"] is False
    assert first["detention"]["places"] == ["TsIP Akrestsina, Minsk"]
    assert first["detention"]["facility_type"] == v("facility_type", "tsip", lang)
    assert first["detention"]["regime"] == v("detention_regime", "administrative_arrest", lang)
    assert (first["detention"]["end"], first["detention"]["duration_days"]) == ("2020-08-24", 15)
    assert first["detention"]["ongoing"] is False
    assert first["legal_basis"] == [v("legal_basis", "cao_23_34", lang)]
    assert first["trial"]["video_link"] is True and first["trial"]["closed_hearing"] is False
    assert first["trial"]["sentence"] == "15 days of administrative arrest"
    assert second["arrest"]["date"] == "2021-03-25"
    assert second["arrest"]["place"] == "His home, Partyzanski district, Minsk"
    # Forces from that arrest's involvements only: no OMON, no prison staff.
    assert second["arrest"]["forces"] == [v("perpetrator_type", "gubopik", lang)]
    assert second["arrest"]["ordering_authority"].startswith("Investigative Committee")
    det = second["detention"]
    assert det["ongoing"] is True and det["end"] is None
    assert det["current_place"] == "Mogilev prison No. 4"
    assert det["places"] == ["SIZO-1 Valadarskaha, Minsk", "Mogilev prison No. 4 (since 2022-01)"]
    assert det["custodians"] == ["Department for the Execution of Punishments of the MVD"]
    assert det["whereabouts"] == v("whereabouts", "disclosed_no_family_contact", lang)
    assert second["legal_basis"] == [v("legal_basis", "cc_342", lang)]
    # Trial: court, judge, case number, dates, closed / video / in absentia, counsel,
    # sentence, appeals.
    trial = second["trial"]
    assert (trial["court"], trial["judge"], trial["case_number"]) == (
        "Leninski district court of Minsk", "Judge S. Petrov", "1-567/2021")
    assert (trial["opened_on"], trial["judgment_on"]) == ("2021-08-02", "2021-09-15")
    assert (trial["closed_hearing"], trial["video_link"], trial["in_absentia"]) == (
        True, False, False)
    assert trial["counsel"].startswith("Advocate")
    assert trial["sentence"] == "5 years of imprisonment"
    assert trial["counsel_access"] == v("counsel_access", "lawyer_pressured", lang)
    assert trial["appeals"] == [{"court": "Minsk City Court", "date": "2021-11-30",
                                 "outcome": "Sentence upheld"}]
    assert trial["court_type"] == v("court_type", "district_court", lang)
    # IV. Circumstances; V. categories with their facts; VI. domestic remedies, structured.
    assert second["circumstances"].startswith("Seven officers")
    assert [(c["code"], c["label"], bool(c["facts"])) for c in second["arbitrariness"]] == [
        ("category_ii", v("wgad_category", "category_ii", lang), True),
        ("category_iii", v("wgad_category", "category_iii", lang), True)]
    assert [r["remedy"] for r in second["domestic_remedies"]] == [
        "Supervisory complaint to the Supreme Court", "Complaint to the Prosecutor General"]
    assert second["domestic_remedies"][1] == {"remedy": "Complaint to the Prosecutor General",
                                              "date": "2022-05-03", "outcome": "No reply"}
    # Ill-treatment and forced confession, from his torture act.
    [ill] = andrei["ill_treatment"]
    assert ill["place"] == "TsIP Akrestsina, Minsk" and andrei["ill_treatment_reported"] is True
    assert ill["forced_confession"] == v("statement_signed", "forced_to_sign", lang)
    assert ill["methods"] == [v("torture_method", m, lang)
                              for m in ("beating", "forced_postures", "forced_standing")]
    # VII. Source and submitting organisation; consent statement.
    _check_source_and_consent(doc, andrei, lang, on_behalf=False)
    _check_translated(doc, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_wgeid_against_the_questionnaire(lang: DraftLanguage, session: Session,
                                         settings: Settings, staff: Staff) -> None:
    case = fx.make(session, settings, staff)
    doc = _draft(session, staff, case.id, "wgeid", lang)
    v = vocab_label
    assert doc["addressee"] == word("name_wgeid", lang) and doc["missing"] == []
    [pavel] = doc["victims"]
    ident = pavel["identity"]
    assert (ident["name"], ident["birth_date"], ident["citizenship"]) == (
        "Pavel Kavalenka", "1998-07-02", "BY")
    assert ident["sex"] == v("sex", "male", lang)
    dis = pavel["disappearance"]
    assert dis["date"] == "2026-10-20"
    assert dis["place"] == "Kamenny Log border checkpoint (Lithuania–Belarus)"
    assert dis["region"] == v("region", "BY-HR", lang)
    assert dis["forces_believed_responsible"] == v("perpetrator_type", "intelligence_service",
                                                   lang)
    assert dis["state_acknowledgement"] == v("whereabouts", "capture_denied", lang)
    assert dis["current_status"] == v("status_at_end", "still_missing", lang)
    assert dis["circumstances"].startswith("Phoned his mother")
    # Steps taken by the family: what, when, with whom, outcome.
    assert [(s["date"], s["addressed_to"], s["outcome"]) for s in
            pavel["steps_taken_by_relatives"]] == [
        ("2026-10-23", "State Border Committee", "Replied that he never crossed the border"),
        ("2026-10-27", "Investigative Committee, Hrodna region", "No reply")]
    # Urgent action: last seen 42 days before the draft.
    assert dis["urgent"] is True and doc["procedure"] == "urgent_action"
    _check_source_and_consent(doc, pavel, lang, on_behalf=True)
    _check_translated(doc, lang)


def _check_source_and_consent(doc: dict[str, Any], victim: dict[str, Any], lang: DraftLanguage,
                              *, on_behalf: bool) -> None:
    src = doc["source"]
    assert src["organisation"] == {"name": fx.ORGANISATION.name,
                                   "contact": fx.ORGANISATION.contact}
    assert src["confidential"] is True and src["note"] == word("source_note_confidential", lang)
    assert src["persons"] == [{"name": "Halina Kavalenka", "relationship": "mother of both",
                               "contact": "Signal +370 600 00000"}]
    mechanism = doc["mechanism"].lower()
    scopes = [vocab_label("consent_scope", s, lang)
              for s in (drafts.SHARE_SCOPE[mechanism], drafts.NAME_SCOPE)]
    assert [c["scope"] for c in victim["consent"]] == scopes
    who = word("consent_on_behalf" if on_behalf else "consent_by_person", lang)
    origin = word("consent_from_intake" if on_behalf else "consent_from_staff", lang)
    for c in victim["consent"]:
        assert (c["given_by"], c["recorded_from"], c["person"]) == (
            who, origin, victim["identity"]["name"])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", c["recorded_on"])


def _check_translated(doc: dict[str, Any], lang: DraftLanguage) -> None:
    """Every field name the draft prints has a word in ``lang``, and the Markdown is plain
    text: no backslash escapes, nothing left in English in another language."""
    for key in _keys(doc) - {"person_id", "act_id", "code", "mechanism", "language", "victims"}:
        assert key in WORDS, key
    text = render_markdown(doc, lang)
    assert text.startswith(f"# {word('title_' + doc['mechanism'].lower(), lang)}")
    assert "\\" not in text
    if lang != "en":
        for key in _keys(doc) & set(WORDS):
            english, local = word(key, "en"), word(key, lang)
            if english != local:
                assert f"**{english}**" not in text, (lang, key)
        if doc["mechanism"] == "WGAD":
            assert word("trial", lang) in text and word("yes", lang) in text
    if doc["mechanism"] == "WGAD":
        assert "Mogilev prison No. 4" in text and "5-1234/2020" in text


def test_urgency_is_recomputed_when_the_draft_is_made(session: Session, settings: Settings,
                                                      staff: Staff) -> None:
    case = fx.make(session, settings, staff)
    later = _draft(session, staff, case.id, "wgeid", "en", today=date(2027, 3, 1))
    assert later["procedure"] == "standard"
    assert later["victims"][0]["disappearance"]["urgent"] is False
    # The flag stored when the metadata was written still says urgent; the draft does not.
    from api.cases.models import CaseDisappearance
    stored = session.get(CaseDisappearance, fx.BORDER)
    assert stored is not None and stored.wgeid_urgent is True


def test_missing_lists_every_empty_required_element(session: Session, settings: Settings,
                                                    staff: Staff) -> None:
    case = fx.make(session, settings, staff, fx.incomplete(), with_profile=False)
    wgad = _draft(session, staff, case.id, "wgad", "fr")
    assert wgad["missing"] == sorted([
        "identity.birth_date",
        "detentions[1].arrest.place", "detentions[1].arrest.forces",
        "detentions[1].legal_basis", "detentions[1].detention.current_place",
        "detentions[1].domestic_remedies", "detentions[1].arbitrariness.category_iii.facts",
        "detentions[1].trial.judge",
        "source.organisation", "source.persons",
    ])
    wgeid = _draft(session, staff, case.id, "wgeid", "es")
    assert wgeid["missing"] == sorted([
        "identity.sex", "steps_taken_by_relatives[1].outcome",
        "source.organisation", "source.persons",
    ])
    text = render_markdown(wgeid, "es")
    assert word("missing", "es") in text and "steps\\_taken" not in text
