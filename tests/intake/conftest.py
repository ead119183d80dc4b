"""Fixtures for intake tests: an app with a recovery key and a staff member on duty."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.app import create_app
from api.auth.roles import Role
from api.core.settings import Settings
from api.storage import BlobStorage, get_storage
from tests.conftest import DbUnderTest
from tests.factories import StaffHandle, create_recovery_key_text, create_staff
from tests.storage.moto_server import MotoS3


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
    with Session(engine, expire_on_commit=False) as s:
        text = create_recovery_key_text(s)
        staff = create_staff(s, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    app = create_app(settings, engine)
    with TestClient(app) as client:
        yield Intake(client, settings, engine, get_storage(settings), text, staff)


@pytest.fixture
def intake(settings: Settings, engine: Engine) -> Iterator[Intake]:
    yield from make_intake(settings, engine)


@pytest.fixture
def intake_with(database: DbUnderTest, engine: Engine, tmp_path: Path
                ) -> Iterator[Callable[..., Intake]]:
    """Build an intake app with some settings overridden (limits, rates)."""
    made: list[Iterator[Intake]] = []

    def build(**overrides: Any) -> Intake:
        settings = database.make_settings(tmp_path / f"data{len(made)}", **overrides)
        gen = make_intake(settings, engine) if not made else _no_new_keys(settings, engine)
        made.append(gen)
        return next(gen)

    yield build
    for gen in made:
        for _ in gen:
            pass


@pytest.fixture(params=["local", "s3"])
def each_backend(request: pytest.FixtureRequest,
                           intake_with: Callable[..., Intake]) -> Intake:
    """An intake app over each blob backend in turn: the local disk, then S3 (moto; the
    requesting module imports the ``moto_s3`` fixture)."""
    if request.param == "local":
        return intake_with()
    moto: MotoS3 = request.getfixturevalue("moto_s3")
    return intake_with(**moto.settings_overrides(moto.new_bucket()))


def _no_new_keys(settings: Settings, engine: Engine) -> Iterator[Intake]:
    with Session(engine, expire_on_commit=False) as s:
        staff = create_staff(s, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    app = create_app(settings, engine)
    with TestClient(app) as client:
        yield Intake(client, settings, engine, get_storage(settings), "", staff)
