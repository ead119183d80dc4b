"""Vocabularies need no database: one light app per module, settings pointing at SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.core.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root: Path = tmp_path_factory.mktemp("vocab-app")
    settings = Settings.model_validate({
        "data_dir": root / "data",
        "database_url": f"sqlite:///{root / 'unused.sqlite3'}",
        "kdf_profile": "fast-insecure-for-tests",
        "log_format": "text",
    })
    with TestClient(create_app(settings)) as c:
        yield c
