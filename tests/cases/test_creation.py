"""create_case is the one owner of new cases: it wraps the key it makes, every time."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session

from api.auth.roles import Role
from api.cases.creation import Reader, create_case
from api.cases.workflow.states import CaseState
from api.core.models import utcnow
from api.keys.repository import RECOVERY, STAFF, wraps_of_case
from api.keys.service import NoRecoveryKey
from tests.factories import create_recovery_key_text, create_staff


def _create(session: Session, readers: list[Reader]) -> object:
    return create_case(session, state=CaseState.NEW, received_on=date(2026, 1, 2), at=utcnow(),
                       region="BY-HM", readers=readers)


def test_no_case_without_a_recovery_key(session: Session) -> None:
    with pytest.raises(NoRecoveryKey):
        _create(session, [])


def test_the_key_is_wrapped_to_the_recovery_key_and_the_readers(session: Session) -> None:
    create_recovery_key_text(session)
    cw = create_staff(session, Role.CASEWORKER)
    case, _key = create_case(session, state=CaseState.NEW, received_on=date(2026, 1, 2),
                             at=utcnow(), region="BY-HM",
                             readers=[Reader(STAFF, cw.user.id, cw.user.public_key)])
    kinds = sorted((w.recipient_kind, w.recipient_id == cw.user.id)
                   for w in wraps_of_case(session, case.id))
    assert kinds == [(RECOVERY, False), (STAFF, True)]
