"""Case access scoping by role and key wrap, and granting cases with the recovery key."""

from __future__ import annotations

import secrets
import uuid
from datetime import date

import pytest
from sqlmodel import Session, col, select

from api.audit import actions
from api.audit.models import AuditEntry
from api.auth.accounts import CLI, reset_password
from api.auth.principals import Principal
from api.auth.roles import Role
from api.cases.access.recovery import grant_with_recovery_key
from api.cases.access.scoping import can_read_case, case_list_filter, case_read_filter, wrap_for
from api.cases.models import Case
from api.core.errors import InvalidInput
from api.core.models import utcnow
from api.keys.models import CaseKeyWrap
from api.keys.service import case_key_context, create_recovery_key
from crypto.keys import DataKey
from crypto.recovery import generate_recovery_key
from crypto.sealed import unwrap_data_key, wrap_data_key
from tests.factories import StaffHandle, create_staff, fast_settings


def _principal(handle: StaffHandle) -> Principal:
    return Principal(user_id=handle.id, username=handle.user.username,
                     role=Role(handle.user.role), session_id=uuid.uuid4())


def _case(session: Session, recovery_id: uuid.UUID, recovery_pub: bytes,
          *recipients: StaffHandle) -> tuple[uuid.UUID, DataKey]:
    case = Case(reference=f"DKZ-{secrets.token_hex(4).upper()}", received_on=date.today())
    session.add(case)
    session.flush()
    key = DataKey.generate()
    session.add(CaseKeyWrap(case_id=case.id, recipient_kind="recovery", recipient_id=recovery_id,
                            wrapped_key=wrap_data_key(recovery_pub, key, case_key_context(
                                case.id, "recovery", recovery_id))))
    for person in recipients:
        kind = "lawyer" if person.user.role == "lawyer" else "staff"
        session.add(CaseKeyWrap(case_id=case.id, recipient_kind=kind, recipient_id=person.id,
                                wrapped_key=wrap_data_key(person.keypair.public_bytes, key,
                                                          case_key_context(case.id, kind,
                                                                           person.id))))
    session.commit()
    return case.id, key


def _visible(session: Session, principal: Principal, listing: bool = False) -> set[uuid.UUID]:
    where = case_list_filter(principal) if listing else case_read_filter(principal)
    return set(session.exec(select(Case.id).where(where)))


def test_scoping_by_role_and_wrap(session: Session) -> None:
    org, _ = create_recovery_key(session)
    admin, coord = create_staff(session, Role.ADMIN), create_staff(session, Role.COORDINATOR)
    cw, other_cw = create_staff(session, Role.CASEWORKER), create_staff(session, Role.CASEWORKER)
    lawyer = create_staff(session, Role.LAWYER)
    mine, _ = _case(session, org.id, org.public_key, cw)
    lawyers, _ = _case(session, org.id, org.public_key, lawyer, coord)
    nobodys, _ = _case(session, org.id, org.public_key)
    assert _visible(session, _principal(cw)) == {mine}
    assert _visible(session, _principal(other_cw)) == set()
    assert _visible(session, _principal(lawyer)) == {lawyers}
    assert _visible(session, _principal(coord)) == {lawyers}
    assert _visible(session, _principal(coord), listing=True) == {mine, lawyers, nobodys}
    assert _visible(session, _principal(cw), listing=True) == {mine}
    assert _visible(session, _principal(admin)) == set()
    assert _visible(session, _principal(admin), listing=True) == set()
    assert can_read_case(session, _principal(cw), mine)
    assert not can_read_case(session, _principal(cw), lawyers)
    assert wrap_for(session, _principal(lawyer), lawyers) is not None
    assert wrap_for(session, _principal(admin), lawyers) is None


def test_grant_with_recovery_key_and_password_reset(session: Session) -> None:
    org, text = create_recovery_key(session)
    session.commit()
    first = create_staff(session, Role.CASEWORKER)
    case_a, key_a = _case(session, org.id, org.public_key, first)
    case_b, key_b = _case(session, org.id, org.public_key)
    newcomer = create_staff(session, Role.CASEWORKER)

    _, wrong_text = generate_recovery_key()
    with pytest.raises(InvalidInput, match="does not belong"):
        grant_with_recovery_key(session, recovery_text=wrong_text, user_id=newcomer.id,
                                user_public_key=newcomer.keypair.public_bytes,
                                user_role="caseworker", case_ids=None)
    with pytest.raises(InvalidInput, match="not a valid recovery key"):
        grant_with_recovery_key(session, recovery_text="DOKAZ-RK1-nonsense", user_id=newcomer.id,
                                user_public_key=newcomer.keypair.public_bytes,
                                user_role="caseworker", case_ids=None)
    session.rollback()

    result = grant_with_recovery_key(
        session, recovery_text=text.lower().replace("-", " "), user_id=newcomer.id,
        user_public_key=newcomer.keypair.public_bytes, user_role="caseworker", case_ids=None)
    session.commit()
    assert result.granted == 2
    for case_id, key in ((case_a, key_a), (case_b, key_b)):
        wrap = wrap_for(session, _principal(newcomer), case_id)
        assert wrap is not None
        assert unwrap_data_key(newcomer.keypair.private_bytes, wrap.wrapped_key,
                               case_key_context(case_id, "staff", newcomer.id)) == key
    grants = session.exec(select(AuditEntry).where(
        col(AuditEntry.action) == actions.KEY_GRANT)).all()
    assert {g.case_id for g in grants} == {case_a, case_b}

    # Forgotten password: a new key pair; old wraps are dropped; grant again.
    settings = fast_settings()
    stored = session.get(type(first.user), first.id)
    assert stored is not None
    dropped = reset_password(session, settings, stored, "a brand new passphrase",
                             actor=CLI, now=utcnow())
    session.commit()
    assert dropped == 1 and wrap_for(session, _principal(first), case_a) is None
    result = grant_with_recovery_key(
        session, recovery_text=text, user_id=first.id, user_public_key=stored.public_key,
        user_role="caseworker", case_ids=[case_a, uuid.uuid4()])
    session.commit()
    assert (result.granted, result.without_recovery_wrap) == (1, 1)
    assert stored.public_key != first.keypair.public_bytes
