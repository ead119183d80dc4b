"""The shipped vocabularies: they load, carry the codes case-metadata.md specifies, and
have real labels in all four languages."""

from __future__ import annotations

import re

import pytest

from api.vocab.registry import (
    LANGUAGES,
    Language,
    all_vocabularies,
    codes,
    get_vocabulary,
    label,
    load_vocabularies,
)

# Copied by hand from /work/shared/reference/case-metadata.md ("act_type (list 4)").
ACT_TYPE_HURI = {
    "arrest": "030101000000",
    "detention": "030102000000",
    "disappearance": "030103000000",
    "abduction": "030104000000",
    "house_arrest": "030105000000",
    "mass_roundup": "030107000000",
    "torture": "020111110000",
    "physical_assault": "020101000000",
    "rape": "020111010000",
    "death_threats": "020103020000",
    "surveillance": "020103030000",
    "illegal_search": "040101000000",
    "exile": "050102000000",
    "death_in_custody": "010106010000",
    "denial_of_legal_assistance": "350109000000",
}

# case-metadata.md, "torture_method (list 5)": each term's HURIDOCS code, under the term
# the document nests it under (None: the top level).
TORTURE_METHOD_HURI: dict[str | None, dict[str, str]] = {
    None: {
        "beating": "030100000000",
        "forced_postures": "031100000000",
        "extreme_temperature": "030700000000",
        "electric_shock": "030800000000",
        "asphyxiation": "030900000000",
        "rape": "030500000000",
        "sexual_threats": "030602000000",
        "food_water_deprivation": "031501000000",
        "sleep_deprivation": "031502000000",
        "denial_of_medical_care": "031503000000",
        "overcrowding": "031905000000",
        "blindfolding": "031904000000",
        "forced_nakedness": "032102000000",
        "threats_against_family": "032202000000",
    },
    "beating": {"blows_with_sticks": "030102000000"},
    "forced_postures": {"forced_standing": "031103000000", "forced_kneeling": "031105000000"},
}
# "Istanbul Protocol adds crush injuries, chemical/pharmacological, detention conditions."
ISTANBUL_ADDITIONS = {"crush_injuries", "chemical_exposure", "detention_conditions"}

# Vocabularies whose exact codes other features already store (api/cases/models.py,
# api/intake/models.py) or the brief fixes.
EXACT_CODES = {
    "region": {"BY-HM", "BY-BR", "BY-HO", "BY-HR", "BY-MA", "BY-MI", "BY-VI", "abroad",
               "unknown"},
    "submitter_role": {"victim", "relative", "witness", "lawyer", "other"},
    "incident_category": {"detention", "torture", "disappearance", "other"},
    "workflow_state": {"new", "triage", "in_review", "needs_info", "verified", "referred",
                       "closed", "rejected", "duplicate", "spam"},
    "urgency_reason": {"ongoing_detention", "torture_risk", "wgeid_urgent"},
    "priority": {"low", "normal", "high"},
    "channel": {"web", "api", "lawyer"},
    "wgad_category": {"category_i", "category_ii", "category_iii", "category_iv",
                      "category_v"},
    "date_precision": {"exact", "estimate", "unknown_day", "unknown_month_day"},
    "ip_consistency": {"not_consistent", "consistent", "highly_consistent", "typical_of",
                       "diagnostic_of"},
}

# Widths of the plaintext columns these codes are stored in.
COLUMN_WIDTH = {"region": 16, "priority": 16, "submitter_role": 16, "channel": 16,
                "workflow_state": 24, "date_precision": 24, "reliability": 16,
                "ip_duration": 16, "ip_frequency": 16}

CYRILLIC = re.compile(r"[\u0400-\u04FF]")


def test_every_shipped_file_loads_and_validates() -> None:
    fresh = load_vocabularies()
    assert [v.id for v in all_vocabularies()] == sorted(fresh)
    assert len(fresh) >= 30
    for vocab in fresh.values():
        assert vocab.version >= 1
        assert vocab.terms


def test_act_type_codes_match_case_metadata() -> None:
    vocab = get_vocabulary("act_type")
    for code, huri in ACT_TYPE_HURI.items():
        assert vocab.term(code).huri_code == huri, code
        assert vocab.term(code).local is False


def test_torture_method_codes_and_nesting_match_case_metadata() -> None:
    vocab = get_vocabulary("torture_method")
    assert vocab.hierarchical
    for parent, terms in TORTURE_METHOD_HURI.items():
        for code, huri in terms.items():
            term = vocab.term(code)
            assert (term.huri_code, term.parent) == (huri, parent), code
    for code in ISTANBUL_ADDITIONS:
        assert vocab.term(code).huri_code is None
    assert {c.code for c in vocab.children("beating")} == {"blows_with_sticks"}


@pytest.mark.parametrize("vocab_id", sorted(EXACT_CODES))
def test_vocabularies_with_fixed_codes(vocab_id: str) -> None:
    assert codes(vocab_id) == EXACT_CODES[vocab_id]


@pytest.mark.parametrize("vocab_id", sorted(COLUMN_WIDTH))
def test_codes_fit_the_columns_they_are_stored_in(vocab_id: str) -> None:
    assert max(len(c) for c in codes(vocab_id)) <= COLUMN_WIDTH[vocab_id]


def test_labels_are_translated_not_copied() -> None:
    for vocab in all_vocabularies():
        for lang in LANGUAGES:
            assert vocab.name.get(lang).strip(), (vocab.id, lang)
        for term in vocab.terms:
            english = term.labels.en
            assert CYRILLIC.search(english) is None, (vocab.id, term.code)
            for lang in ("be", "ru", "uk"):
                text = term.labels.get(lang)
                assert text.strip() and text != english, (vocab.id, term.code, lang)
                assert CYRILLIC.search(text), (vocab.id, term.code, lang)


# Letters each language does not have: catches a label pasted into the wrong slot.
FOREIGN_LETTERS: dict[Language, set[str]] = {
    "be": set("ИиЩщЪъЇїЄєҐґ"), "ru": set("ІіЎўЇїЄєҐґ"), "uk": set("ЫыЭэЪъЁёЎў"),
}


def test_labels_use_their_own_alphabet() -> None:
    for vocab in all_vocabularies():
        for item in (vocab.name, *(t.labels for t in vocab.terms)):
            for lang, foreign in FOREIGN_LETTERS.items():
                assert not set(item.get(lang)) & foreign, (vocab.id, item.en, lang)


def test_known_labels() -> None:
    assert [label("act_type", "arrest", lang) for lang in ("be", "ru", "uk")] == [
        "Затрыманне", "Задержание", "Затримання"]
    assert label("region", "BY-HM", "be") == "Мінск (горад)"


def test_legal_basis_records_cao_renumbering() -> None:
    vocab = get_vocabulary("legal_basis")
    assert vocab.term("cao_24_23").replaces == ("cao_23_34",)
    assert vocab.term("cao_24_3").replaces == ("cao_23_4",)
    assert vocab.current_code("cao_23_34") == "cao_24_23"
    assert vocab.current_code("cc_342") == "cc_342"
    assert vocab.term("cc_342").labels.en.startswith("CC art. 342: ")
    for code in ("cc_342", "cc_130", "cc_361_1", "cc_361_2", "cc_361_4", "cc_363", "cc_364",
                 "cc_366", "cc_339", "cc_368", "cc_369", "cc_193_1"):
        assert vocab.term(code).local


def test_facility_types_cover_the_belarus_list() -> None:
    expected = {"rovd", "ivs", "tsip", "sizo_mvd", "sizo_kgb", "prison", "correctional_colony",
                "open_type_facility", "ltp", "psychiatric_hospital", "police_van",
                "unofficial_place"}
    vocab = get_vocabulary("facility_type")
    assert expected <= codes("facility_type")
    assert all(vocab.term(c).local for c in expected)
    assert "Akrestsina" in vocab.term("tsip").labels.en


def test_age_bands_are_ten_years_wide() -> None:
    bands = [c for c in codes("age_band") if re.fullmatch(r"age_\d+_\d+", c)]
    assert len(bands) == 8
    for code in bands:
        lo, hi = map(int, code.split("_")[1:])
        assert hi - lo == 9 and lo % 10 == 0
    assert "age_80_plus" in codes("age_band")


# Issue 17, item 4: the articles used against protesters and critics, as Viasna reports
# them, besides those shipped before.
BELARUS_ARTICLES = {"cc_130", "cc_289", "cc_293", "cc_342", "cc_356", "cc_357", "cc_361",
                    "cc_361_1", "cc_361_2", "cc_361_4", "cc_367", "cc_368", "cc_369_1",
                    "cc_370", "cc_411", "cao_24_23", "cao_19_11", "cao_24_3", "cao_19_1"}


def test_legal_basis_has_the_belarus_articles_with_their_history() -> None:
    vocab = get_vocabulary("legal_basis")
    assert codes("legal_basis") >= BELARUS_ARTICLES
    for code in BELARUS_ARTICLES:
        number = code.split("_", 1)[1].replace("_", "." if code.startswith("cao") else "-")
        term = vocab.term(code)
        assert term.local and term.labels.en.startswith(
            ("CC art. " if code.startswith("cc") else "CAO art. ") + number + ": "), code
    assert "2021" in (vocab.term("cc_361_4").notes or "")
    assert "before 2021" in (vocab.term("cc_361_1").notes or "")
    assert vocab.current_code("cao_17_1") == "cao_19_1"
    assert label("legal_basis", "cc_293", "ru") == "УК ст. 293: массовые беспорядки"


def test_transnational_repression_and_border_guards_are_coded() -> None:
    assert {"conviction_in_absentia", "pressure_on_relatives", "passport_refusal",
            "wanted_notice", "extradition_request"} <= codes("act_type")
    assert "border_guards" in codes("perpetrator_type")
    assert max(len(c) for c in codes("act_type")) <= 32  # case_act.act_type
    assert max(len(c) for c in codes("perpetrator_type")) <= 32


REQUESTED_FACILITIES = {
    "tsip_akrestsina_minsk": ("BY-HM", "tsip"), "sizo_1_minsk": ("BY-HM", "sizo_mvd"),
    "sizo_2_vitebsk": ("BY-VI", "sizo_mvd"), "sizo_3_gomel": ("BY-HO", "sizo_mvd"),
    "sizo_5_zhodzina": ("BY-MI", "sizo_mvd"), "prison_8_zhodzina": ("BY-MI", "prison"),
    "prison_4_mogilev": ("BY-MA", "prison"), "prison_1_grodno": ("BY-HR", "prison"),
    "ik_1_novopolotsk": ("BY-VI", "correctional_colony"),
    "ik_2_bobruisk": ("BY-MA", "correctional_colony"),
    "ik_3_vitba": ("BY-VI", "correctional_colony"),
    "ik_4_gomel": ("BY-HO", "correctional_colony"),
    "ik_9_gorki": ("BY-MA", "correctional_colony"),
    "ik_13_glubokoye": ("BY-VI", "correctional_colony"),
    "ik_15_mogilev": ("BY-MA", "correctional_colony"),
    "ik_17_shklov": ("BY-MA", "correctional_colony"),
    "ik_22_ivatsevichi": ("BY-BR", "correctional_colony"),
}


def test_named_facilities_have_oblast_and_type() -> None:
    vocab = get_vocabulary("facility")
    assert vocab.attributes == ("region", "facility_type")
    for code, (region, kind) in REQUESTED_FACILITIES.items():
        assert vocab.term(code).attributes == {"region": region, "facility_type": kind}, code
    for term in vocab.terms:
        if term.code not in ("other", "unknown"):
            assert set(term.attributes) == {"region", "facility_type"}, term.code
            assert term.attributes["region"].startswith("BY-"), term.code
    assert max(len(c) for c in codes("facility")) <= 40  # case_act.facility


def test_penalty_list_and_recognition_vocabularies() -> None:
    assert codes("fine_band") == {"bu_up_to_10", "bu_11_30", "bu_31_50", "bu_51_100",
                                  "bu_over_100", "unknown"}
    assert {"extremist_persons", "extremist_formation", "extremist_materials",
            "terrorist_list"} <= codes("list_designation")
    assert codes("political_prisoner_recogniser") == {"viasna", "joint_statement", "other"}
# Checked by hand against the OpenEvSys population script (schema/mysql-dbpopulate-mt.sql,
# list_code = the micro-thesaurus number): one term per list, the lists' own wording noted.
HURIDOCS_SPOT_CHECKS = {
    ("sex", "female"): "020000000000",  # 39 Female
    ("intent", "sowing_fear"): "020200000000",  # 38 Sowing fear or creating pressure on others
    ("whereabouts", "not_disclosed"): "010200000000",  # 30 Location is not disclosed
    ("counsel_access", "appointed_only"): "510000000000",  # 31 Counsel appointed by the state
    ("involvement_degree", "ordered"): "010200000000",  # 18 Gave orders that led to the act
    ("perpetrator_type", "intelligence_service"): "010106000000",  # 24 Intelligence agency
    ("source_connection", "relative"): "020101000000",  # 19 Relative of victim
    ("status_at_end", "serving_sentence"): "020203000000",  # 25 ... serving sentence
    ("victim_characteristic", "relative_of_targeted"): "050101000000",  # 23 Relatives of ...
    ("material_type", "photo"): "160815201501",  # 16 Photograph
    ("relationship_type", "sibling"): "010102000000",  # 21 Sibling
    ("relationship_type", "lawyer_of"): "010602010000",  # 21 Lawyer
}


@pytest.mark.parametrize(("vocab_id", "code"), sorted(HURIDOCS_SPOT_CHECKS))
def test_huridocs_codes_are_the_published_ones(vocab_id: str, code: str) -> None:
    assert get_vocabulary(vocab_id).term(code).huri_code == HURIDOCS_SPOT_CHECKS[vocab_id, code]


def test_a_vocabulary_claims_a_huridocs_list_only_with_its_codes() -> None:
    # "Micro-thesaurus N" in a source is a claim that the terms carry list N's codes; a
    # bare "(list N)" claim without codes (as 41 and 42 once were) is not allowed.
    for vocab in all_vocabularies():
        claim = re.search(r"Micro-thesaurus (\d+)", vocab.source)
        coded = [t for t in vocab.terms if t.huri_code is not None]
        assert (claim is not None) == bool(coded), vocab.id
        assert not re.search(r"\(list \d+\)", vocab.source), vocab.id
