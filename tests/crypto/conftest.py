"""Shared fixtures for the crypto tests (no database, no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crypto.passwords import Argon2Params

VECTOR_DIR = Path(__file__).resolve().parent / "vectors"


@pytest.fixture
def test_params() -> Argon2Params:
    return Argon2Params.for_tests()


def load_vectors(name: str) -> list[dict[str, Any]]:
    doc = json.loads((VECTOR_DIR / f"{name}.json").read_text(encoding="utf-8"))
    vectors: list[dict[str, Any]] = doc["vectors"]
    assert vectors
    return vectors


@pytest.fixture
def vectors() -> Any:
    return load_vectors
