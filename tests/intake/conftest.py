"""Fixtures for intake tests: an app with a recovery key and a staff member on duty."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from api.auth.roles import Role
from api.core.settings import Settings
from api.storage import BlobStorage, get_storage
from tests.factories import StaffHandle, create_recovery_key_text, create_staff


@dataclass
class Intake:
    client: TestClient
    settings: Settings
    engine: Engine
    storage: BlobStorage
    recovery_text: str
    on_duty: StaffHandle

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


def make_intake(settings: Settings, engine: Engine) -> Iterator[Intake]:
    with Session(engine) as s:
        text = create_recovery_key_text(s)
        staff = create_staff(s, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    app = create_app(settings, engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Intake(client, settings, engine, get_storage(settings), text, staff)


@pytest.fixture
def intake(settings: Settings, engine: Engine) -> Iterator[Intake]:
    yield from make_intake(settings, engine)
