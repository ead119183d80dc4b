"""The Belarus codes reach the statistics' sources under the same consent rule, so the
indicators (torture by facility, transnational repression by country of residence,
political prisoners) can be built on them."""

from __future__ import annotations

from sqlalchemy import bindparam, text, update
from sqlmodel import Session

from api.cases import models as cm
from api.stats import repository
from tests.stats.conftest import add_victims


def _rows(session: Session, sql: str) -> list[tuple[object, ...]]:
    stmt = text("WITH " + ",\n".join(repository._SOURCES["acts"]) + "\n" + sql).bindparams(
        bindparam("states", expanding=True))
    got = session.execute(stmt, {"scope": repository.CONSENT_SCOPE, "states": ["verified"]})
    return sorted(tuple(r) for r in got)


def test_facility_residence_and_recognition_are_read_only_for_consenting_victims(
        session: Session) -> None:
    tortured = add_victims(session, 3, act_type="torture", facility=None)
    abroad = add_victims(session, 2, act_type="pressure_on_relatives", facility=None)
    refused = add_victims(session, 1, act_type="torture", facility=None, consent=False)
    session.execute(update(cm.CaseAct).where(
        cm.CaseAct.victim_id.in_(tortured + refused))  # type: ignore[attr-defined]
        .values(facility="tsip_akrestsina_minsk"))
    session.execute(update(cm.CasePerson).where(
        cm.CasePerson.id.in_(abroad))  # type: ignore[attr-defined]
        .values(residence_country="LT", political_prisoner_recognised_by="viasna",
                political_prisoner_month="2022-01"))
    session.commit()

    assert _rows(session, "SELECT act_type, facility, count(*) FROM acts "
                          "WHERE facility IS NOT NULL GROUP BY act_type, facility") == [
        ("torture", "tsip_akrestsina_minsk", 3)]
    assert _rows(session, "SELECT act_type, residence_country, count(*) FROM acts "
                          "WHERE residence_country IS NOT NULL "
                          "GROUP BY act_type, residence_country") == [
        ("pressure_on_relatives", "LT", 2)]
    assert _rows(session, "SELECT political_prisoner_recognised_by, political_prisoner_month, "
                          "count(*) FROM victims WHERE political_prisoner_month IS NOT NULL "
                          "GROUP BY political_prisoner_recognised_by, "
                          "political_prisoner_month") == [("viasna", "2022-01", 2)]
