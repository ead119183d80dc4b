"""Fixtures for the cases tests: staff of every role and a case factory."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from tests.cases.factory import Staff, make_staff


@pytest.fixture
def staff(session: Session) -> Staff:
    return make_staff(session)
