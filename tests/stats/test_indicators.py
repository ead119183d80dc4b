"""The Belarus indicators of the partner catalogue (political prisoners, convictions by
article, administrative arrests and fines, torture by facility, transnational repression):
exact counts on a small seeded set, only consenting victims, the contribution bound, and
suppression of small cells in what a partner gets. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from api.cases import models as cm
from api.core.settings import Settings
from api.stats import repository, service
from api.stats.catalogue import BY_ID
from tests.stats.conftest import SEALED, add_victims, partner_key


def _counts(session: Session, settings: Settings, table_id: str) -> dict[tuple[Any, ...], int]:
    rows = repository.count_table(session, BY_ID[table_id], settings.stats_countable_states)
    return {tuple(r[:-1]): r[-1] for r in rows}


def _set_people(session: Session, ids: list[uuid.UUID], **values: Any) -> None:
    session.execute(update(cm.CasePerson).where(col(cm.CasePerson.id).in_(ids)).values(**values))
    session.commit()


def _acts_of(session: Session, ids: list[uuid.UUID]) -> list[cm.CaseAct]:
    return list(session.exec(select(cm.CaseAct).where(col(cm.CaseAct.victim_id).in_(ids))))


def _set_detentions(session: Session, ids: list[uuid.UUID], **values: Any) -> None:
    acts = [a.id for a in _acts_of(session, ids)]
    session.execute(update(cm.CaseDetention).where(col(cm.CaseDetention.act_id).in_(acts))
                    .values(**values))
    session.commit()


def _add_articles(session: Session, ids: list[uuid.UUID], *articles: str) -> None:
    for act in _acts_of(session, ids):
        for code in articles:
            session.add(cm.CaseCode(case_id=act.case_id, subject_id=act.id, vocab="legal_basis",
                                    code=code))
    session.commit()


def _set_facility(session: Session, ids: list[uuid.UUID], facility: str) -> None:
    session.execute(update(cm.CaseAct).where(col(cm.CaseAct.victim_id).in_(ids))
                    .values(facility=facility))
    session.commit()


def test_political_prisoners_by_recognition_month_and_region(
        session: Session, stats_settings: Settings) -> None:
    recognised = add_victims(session, 3, region="BY-HM")
    refused = add_victims(session, 1, region="BY-HM", consent=False)
    later = add_victims(session, 2, region="BY-VI")
    add_victims(session, 2, region="BY-HM")  # detained, not recognised: not counted
    _set_people(session, recognised + refused, political_prisoner_recognised_by="viasna",
                political_prisoner_month="2022-01")
    _set_people(session, later, political_prisoner_recognised_by="joint_statement",
                political_prisoner_month="2022-03")
    assert _counts(session, stats_settings, "political_prisoners_by_region_month") == {
        ("BY-HM", "2022-01"): 3, ("BY-VI", "2022-03"): 2}


def test_political_prisoners_held_on_the_release_date(
        session: Session, stats_settings: Settings) -> None:
    held = add_victims(session, 3, region="BY-HM")
    released = add_victims(session, 2, region="BY-HM")  # recognised, detention over
    refused = add_victims(session, 1, region="BY-HM", consent=False)
    joint = add_victims(session, 2, region="BY-MI")
    held_unrecognised = add_victims(session, 2, region="BY-HM")
    recognised_no_detention = add_victims(session, 1, region="BY-HM", facility=None)
    _set_people(session, held + released + refused + recognised_no_detention,
                political_prisoner_recognised_by="viasna", political_prisoner_month="2022-01")
    _set_people(session, joint, political_prisoner_recognised_by="joint_statement",
                political_prisoner_month="2023-06")
    _set_detentions(session, held + refused + joint + held_unrecognised, ongoing=True)
    assert _counts(session, stats_settings, "political_prisoners_held") == {
        ("BY-HM", "viasna"): 3, ("BY-MI", "joint_statement"): 2}


def test_convictions_by_article_and_verdict_month(
        session: Session, stats_settings: Settings) -> None:
    two_articles = add_victims(session, 1)
    one_article = add_victims(session, 2)
    no_verdict = add_victims(session, 1)  # charged, not yet convicted
    refused = add_victims(session, 1, consent=False)
    _set_detentions(session, two_articles + one_article + refused, verdict_month="2022-05")
    _add_articles(session, two_articles, "cc_342", "cc_130")
    _add_articles(session, one_article + no_verdict + refused, "cc_342")
    assert _counts(session, stats_settings, "convictions_by_article_month") == {
        ("cc_342", "2022-05"): 3, ("cc_130", "2022-05"): 1}


def test_administrative_arrests_by_days_band_and_fines_by_band(
        session: Session, stats_settings: Settings) -> None:
    for days, month in ((5, "2021-03"), (10, "2021-03"), (11, "2021-03"), (15, "2021-03"),
                        (16, "2021-04"), (30, "2021-04"), (31, "2021-04"), (0, "2021-04")):
        _set_detentions(session, add_victims(session, 1, month=month), admin_arrest_days=days)
    _set_detentions(session, add_victims(session, 1, consent=False), admin_arrest_days=15)
    assert _counts(session, stats_settings, "admin_arrests_by_days_month") == {
        ("days_1_10", "2021-03"): 2, ("days_11_15", "2021-03"): 2,
        ("days_16_30", "2021-04"): 2, ("days_31_plus", "2021-04"): 1}

    _set_detentions(session, add_victims(session, 3, month="2021-05"), fine_band="bu_11_30")
    _set_detentions(session, add_victims(session, 1, month="2021-05"), fine_band="unknown")
    _set_detentions(session, add_victims(session, 1, month="2021-05", revoked=True),
                    fine_band="bu_11_30")
    assert _counts(session, stats_settings, "fines_by_band_month") == {
        ("bu_11_30", "2021-05"): 3, ("unknown", "2021-05"): 1}


def test_torture_by_named_facility_and_by_its_type_and_oblast(
        session: Session, stats_settings: Settings) -> None:
    akrestsina = add_victims(session, 3, act_type="torture", facility=None, region="BY-HM")
    zhodzina = add_victims(session, 1, act_type="torture", facility=None, region="BY-HM")
    unnamed = add_victims(session, 2, act_type="torture", facility=None, region="BY-VI")
    refused = add_victims(session, 1, act_type="torture", facility=None, consent=False)
    detained = add_victims(session, 2, act_type="detention")  # a facility, but no torture
    _set_facility(session, akrestsina + refused + detained, "tsip_akrestsina_minsk")
    _set_facility(session, zhodzina, "prison_8_zhodzina")
    assert _counts(session, stats_settings, "torture_by_facility_month") == {
        ("tsip_akrestsina_minsk", "2021-03"): 3, ("prison_8_zhodzina", "2021-03"): 1,
        (None, "2021-03"): 2}
    # The facility's own type and oblast (Zhodzina is in Minsk oblast, the case in the city);
    # torture in no named place keeps the act's oblast and an unknown type.
    assert _counts(session, stats_settings, "torture_by_facility_type_region_month") == {
        ("tsip", "BY-HM", "2021-03"): 3, ("prison", "BY-MI", "2021-03"): 1,
        (None, "BY-VI", "2021-03"): 2}
    assert len(unnamed) == 2


def test_transnational_repression_by_country_of_residence(
        session: Session, stats_settings: Settings) -> None:
    lithuania = add_victims(session, 2, act_type="pressure_on_relatives", facility=None)
    malta = add_victims(session, 1, act_type="pressure_on_relatives", facility=None)
    add_victims(session, 1, act_type="wanted_notice", facility=None)  # residence not known
    poland = add_victims(session, 1, act_type="conviction_in_absentia", facility=None)
    refused = add_victims(session, 1, act_type="pressure_on_relatives", facility=None,
                          consent=False)
    at_home = add_victims(session, 1, act_type="torture", facility=None)  # not transnational
    _set_people(session, lithuania + refused + at_home, residence_country="LT")
    _set_people(session, malta, residence_country="MT")  # not listed: "other"
    _set_people(session, poland, residence_country="PL")
    assert _counts(session, stats_settings, "transnational_repression_by_country_month") == {
        ("pressure_on_relatives", "lt", "2021-03"): 2,
        ("pressure_on_relatives", "other", "2021-03"): 1,
        ("wanted_notice", "unknown", "2021-03"): 1,
        ("conviction_in_absentia", "pl", "2021-03"): 1}


def test_the_contribution_bound_is_enforced_on_the_new_tables(
        session: Session, stats_settings: Settings) -> None:
    [person_id] = add_victims(session, 1, act_type="torture", facility=None, month="2021-01")
    person = session.get(cm.CasePerson, person_id)
    assert person is not None
    for m in range(2, 10):  # eight more torture acts, each in a month of its own
        session.add(cm.CaseAct(case_id=person.case_id, victim_id=person_id, act_type="torture",
                               start_month=f"2021-{m:02d}", region="BY-HM", sealed=SEALED))
    session.commit()
    for table_id in ("torture_by_facility_month", "torture_by_facility_type_region_month"):
        spec = BY_ID[table_id]
        assert repository.contribution_bound(session, spec) == 9 > spec.max_contributions
        counts = _counts(session, stats_settings, table_id)
        assert sum(counts.values()) == spec.max_contributions == 6
        assert max(k[-1] for k in counts) == "2021-06"  # the first cells, by month

    [convicted] = add_victims(session, 1)
    _set_detentions(session, [convicted], verdict_month="2022-02")
    _add_articles(session, [convicted], "cc_342", "cc_130", "cc_361_1", "cc_361_2", "cc_361_4",
                  "cc_363", "cc_364", "cc_366")
    counts = _counts(session, stats_settings, "convictions_by_article_month")
    assert sum(counts.values()) == BY_ID["convictions_by_article_month"].max_contributions


def test_a_partner_gets_labelled_indicators_with_small_cells_suppressed(
        stats_client: TestClient, session: Session, stats_settings: Settings) -> None:
    big = add_victims(session, 12, act_type="torture", facility=None, month="2021-06")
    small = add_victims(session, 2, act_type="torture", facility=None, month="2021-06")
    _set_facility(session, big, "tsip_akrestsina_minsk")
    _set_facility(session, small, "sizo_1_minsk")
    # A third cell, so the small one can be protected by hiding a neighbour (see
    # test_labels_formats_and_chart): the larger stays published.
    _set_facility(session, add_victims(session, 11, act_type="torture", facility=None,
                                       month="2021-06"), "sizo_kgb_minsk")
    exiles = add_victims(session, 11, act_type="passport_refusal", facility=None,
                         month="2021-06")
    _set_people(session, exiles, residence_country="LT")
    _set_people(session, add_victims(session, 12, act_type="passport_refusal", facility=None,
                                     month="2021-06"), residence_country="PL")
    _set_people(session, add_victims(session, 1, act_type="passport_refusal", facility=None,
                                     month="2021-06"), residence_country="GE")
    service.refresh(session, stats_settings, force=True)
    session.commit()
    h = partner_key(session).headers
    june = {"from": "2021-06", "to": "2021-06"}

    r = stats_client.get("/api/v1/stats/tables/torture_by_facility_month", headers=h,
                         params={"dims": "facility", "lang": "ru", **june})
    assert r.status_code == 200, r.text
    cells = {c["facility"]["code"]: c for c in r.json()["cells"]}
    assert cells["tsip_akrestsina_minsk"]["value"] == 12
    assert "Окрестина" in cells["tsip_akrestsina_minsk"]["facility"]["label"]
    assert cells["sizo_1_minsk"] == {**cells["sizo_1_minsk"], "value": None, "suppressed": True}
    assert all(c["value"] is None or c["value"] == 0 or c["value"] >= 10
               for c in cells.values())

    r = stats_client.get("/api/v1/stats/tables/transnational_repression_by_country_month",
                         headers=h, params={"dims": "country", "act_type": "passport_refusal",
                                            **june})
    assert r.status_code == 200, r.text
    cells = {c["country"]["code"]: c for c in r.json()["cells"]}
    assert cells["pl"]["value"] == 12 and cells["pl"]["country"]["label"] == "Poland"
    assert cells["ge"]["suppressed"] is True and cells["lt"]["country"]["label"] == "Lithuania"
    assert all(c["value"] is None or c["value"] == 0 or c["value"] >= 10
               for c in cells.values())
    # Only the transnational act types are levels of this table's act type.
    r = stats_client.get("/api/v1/stats/tables/transnational_repression_by_country_month",
                         headers=h, params={"act_type": "torture"})
    assert r.status_code in (400, 422), r.text
