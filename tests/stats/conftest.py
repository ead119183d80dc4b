"""Seeding coded cases straight into the tables (the coarse columns statistics read)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.app import create_app
from api.cases import models as cm
from api.core.settings import Settings
from api.partners.models import Partner
from tests.conftest import DbUnderTest
from tests.factories import create_partner_key

SEALED = b"\x01sealed-test-placeholder"


def add_victims(
    session: Session,
    n: int,
    *,
    region: str = "BY-HM",
    month: str = "2021-03",
    act_type: str = "detention",
    state: str = "verified",
    consent: bool = True,
    revoked: bool = False,
    sex: str = "male",
    age_band: str = "age_20_29",
    facility: str | None = "ivs",
    methods: tuple[str, ...] = (),
    perpetrator: str | None = None,
    disappeared: str | None = None,
) -> list[uuid.UUID]:
    """``n`` victims, each in a case of their own, coded as given. Returns person ids."""
    people = []
    for _ in range(n):
        case = cm.Case(reference=f"DKZ-{secrets.token_hex(5)}", state=state, region=region,
                       period_start_month=month, received_on=date(2021, 4, 1))
        person = cm.CasePerson(case_id=case.id, role="victim", sex=sex, age_band=age_band,
                               sealed=SEALED)
        act = cm.CaseAct(case_id=case.id, victim_id=person.id, act_type=act_type,
                         start_month=month, region=region, sealed=SEALED)
        rows: list[object] = [case, person, act]
        if facility:
            rows.append(cm.CaseDetention(act_id=act.id, case_id=case.id, facility_type=facility,
                                         sealed=SEALED))
        rows += [cm.CaseCode(case_id=case.id, subject_id=act.id, vocab="torture_method", code=m)
                 for m in methods]
        if perpetrator:
            rows.append(cm.CaseInvolvement(case_id=case.id, act_id=act.id,
                                           perpetrator_type=perpetrator, sealed=SEALED))
        if disappeared:
            rows.append(cm.CaseDisappearance(act_id=act.id, case_id=case.id, region=region,
                                             last_seen_month=month, current_status=disappeared,
                                             sealed=SEALED))
        if consent:
            rows.append(cm.CaseConsent(case_id=case.id, person_id=person.id,
                                       scope="aggregate_statistics", version=1))
            if revoked:
                rows.append(cm.CaseConsent(case_id=case.id, person_id=person.id,
                                           scope="aggregate_statistics", version=2,
                                           revoked_at=case.created_at))
        # Parents first: the cases' rows are flushed before the rows pointing at them.
        for row in rows:
            session.add(row)
            session.flush()
        people.append(person.id)
    session.commit()
    return people


@dataclass
class PartnerKey:
    key: str
    partner_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


def partner_key(session: Session, name: str = "Viasna test",
                scopes: tuple[str, ...] = ("stats:read",)) -> PartnerKey:
    key, _key_id = create_partner_key(session, name=name, scopes=scopes)
    partner = session.exec(select(Partner).where(col(Partner.name) == name)).one()
    session.commit()  # end the read: SQLite's BEGIN IMMEDIATE would block the app's writes
    return PartnerKey(key, partner.id)


@pytest.fixture
def stats_settings(database: DbUnderTest, tmp_path: object) -> Settings:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    return database.make_settings(tmp_path / "data", stats_first_month="2021-01",
                                  stats_pulls_per_key_per_hour=1000)


@pytest.fixture
def stats_client(stats_settings: Settings, engine: Engine) -> Iterator[TestClient]:
    app = create_app(stats_settings, engine)
    with TestClient(app) as client:
        yield client
