"""Usage touches (``last_seen_at`` of a staff session, ``last_used_at`` of a partner key):
at most once per interval, in a short transaction of their own after the request's, and
never waited for (api/core/touch.py).

Written with the request, the touch held the session's or key's row locked until the
commit, so a second request with the same token or key queued behind the first. The
PostgreSQL tests hold that row locked from another connection and give the app's
connections a short ``lock_timeout``: a request that waited on the row would fail with a
lock timeout (a 503), so a 200 proves it did not wait; no wall clock is measured.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from api.app import create_app
from api.auth import login as login_service
from api.auth.models import StaffSession
from api.auth.roles import Role
from api.core.db import make_engine
from api.core.settings import Settings
from api.partners.models import PartnerApiKey
from api.partners.service import authenticate_key
from tests.conftest import DbUnderTest
from tests.factories import app_clock, create_partner_key, create_staff, login

ME = "/api/v1/auth/me"
CATALOGUE = "/api/v1/stats/tables"


def _seen(engine: Engine, session_id: str) -> datetime:
    with Session(engine) as s:
        row = s.get(StaffSession, uuid.UUID(session_id))
        assert row is not None
        return row.last_seen_at


def _used(engine: Engine, key_id: uuid.UUID) -> datetime | None:
    with Session(engine) as s:
        row = s.get(PartnerApiKey, key_id)
        assert row is not None
        return row.last_used_at


def test_session_touch_at_most_once_a_minute(app_client: TestClient, session: Session,
                                             engine: Engine) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    session.rollback()
    body = login(app_client, cw)
    token = {"Authorization": f"Bearer {body['token']}"}
    clock = app_clock(app_client)
    signed_in = _seen(engine, body["session_id"])
    clock.advance(30)
    assert app_client.get(ME, headers=token).status_code == 200
    assert _seen(engine, body["session_id"]) == signed_in  # within the minute: no write
    clock.advance(31)
    assert app_client.get(ME, headers=token).status_code == 200
    touched = _seen(engine, body["session_id"])
    assert signed_in + login_service.TOUCH_EVERY <= touched <= clock.now()
    clock.advance(59)
    assert app_client.get(ME, headers=token).status_code == 200
    assert _seen(engine, body["session_id"]) == touched


def test_key_touch_at_most_once_a_minute(app_client: TestClient, session: Session,
                                         engine: Engine) -> None:
    secret, key_id = create_partner_key(session)
    session.rollback()
    key = {"X-API-Key": secret}
    clock = app_clock(app_client)
    assert _used(engine, key_id) is None
    assert app_client.get(CATALOGUE, headers=key).status_code == 200
    first = _used(engine, key_id)
    assert first is not None and first <= clock.now()
    clock.advance(30)
    assert app_client.get(CATALOGUE, headers=key).status_code == 200
    assert _used(engine, key_id) == first
    clock.advance(31)
    assert app_client.get(CATALOGUE, headers=key).status_code == 200
    third = _used(engine, key_id)
    assert third is not None and first + login_service.TOUCH_EVERY <= third <= clock.now()


def test_touches_are_not_part_of_the_request_transaction(
    app_client: TestClient, session: Session, engine: Engine, settings: Settings
) -> None:
    """The request's own transaction writes nothing: the touch is committed on its own,
    after the request's transaction ended, even when that one rolls back."""
    cw = create_staff(session, Role.CASEWORKER)
    secret, key_id = create_partner_key(session)
    session.rollback()
    body = login(app_client, cw)
    later = app_clock(app_client).now() + login_service.TOUCH_EVERY
    with Session(engine, expire_on_commit=False) as request_session:
        login_service.authenticate(request_session, settings, body["token"], later)
        authenticate_key(request_session, secret, later)
        assert not request_session.dirty and not request_session.new
        request_session.rollback()  # the request failed after authenticating
    assert _seen(engine, body["session_id"]) == later
    assert _used(engine, key_id) == later


@contextmanager
def _row_locked(db: DbUnderTest, table: str, row_id: uuid.UUID) -> Iterator[None]:
    """Hold ``table``'s row ``row_id`` locked (FOR UPDATE) from another connection."""
    with db.engine.connect() as conn:
        conn.execute(text(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE"),  # noqa: S608
                     {"id": row_id})
        yield
        conn.rollback()


@pytest.fixture
def impatient_client(database: DbUnderTest, settings: Settings) -> Iterator[TestClient]:
    """An app whose PostgreSQL connections give up on any row lock after 300 ms."""
    if database.kind != "postgresql":
        pytest.skip("row locks and lock_timeout are PostgreSQL's")
    engine = make_engine(settings, url=database.url,
                         connect_args={"options": "-c lock_timeout=300"})
    with TestClient(create_app(settings, engine)) as client:
        yield client
    engine.dispose()


def test_session_touch_never_waits_for_a_locked_row(
    impatient_client: TestClient, session: Session, database: DbUnderTest
) -> None:
    cw = create_staff(session, Role.CASEWORKER)
    session.rollback()
    body = login(impatient_client, cw)
    sid = uuid.UUID(body["session_id"])
    token = {"Authorization": f"Bearer {body['token']}"}
    clock = app_clock(impatient_client)
    before = _seen(database.engine, body["session_id"])
    clock.advance(61)  # a touch is due
    with _row_locked(database, "staff_session", sid):
        # A request that waited on the row would hit the lock timeout (a 503).
        assert impatient_client.get(ME, headers=token).status_code == 200
    assert _seen(database.engine, body["session_id"]) == before  # skipped, not queued
    assert impatient_client.get(ME, headers=token).status_code == 200
    assert _seen(database.engine, body["session_id"]) > before  # the next one touches


def test_key_touch_never_waits_for_a_locked_row(
    impatient_client: TestClient, session: Session, database: DbUnderTest
) -> None:
    secret, key_id = create_partner_key(session)
    session.rollback()
    key = {"X-API-Key": secret}
    with _row_locked(database, "partner_api_key", key_id):
        assert impatient_client.get(CATALOGUE, headers=key).status_code == 200
        assert impatient_client.get(CATALOGUE, headers=key).status_code == 200
    assert _used(database.engine, key_id) is None
    assert impatient_client.get(CATALOGUE, headers=key).status_code == 200
    assert _used(database.engine, key_id) is not None
