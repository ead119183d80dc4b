"""Fixtures for account, session and access tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from tests.conftest import DbUnderTest


@pytest.fixture
def make_client(
    database: DbUnderTest, engine: Engine, tmp_path: Any
) -> Iterator[Callable[..., TestClient]]:
    """Build extra app clients on the same database, with setting overrides."""
    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        settings = database.make_settings(tmp_path / "data", **overrides)
        client = TestClient(create_app(settings, engine))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)
