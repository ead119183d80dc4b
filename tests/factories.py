"""Shared test helpers that create real rows through the real services.

Append new helpers at the end (several features add to this file).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from api.auth.accounts import CLI, create_user
from api.auth.models import StaffUser
from api.auth.roles import Role
from api.auth.totp import STEP_SECONDS, code_for_step, open_secret, step_at
from api.core.clock import Clock
from api.core.models import utcnow
from api.core.settings import Settings
from api.partners.models import Partner
from api.partners.service import create_key, create_partner
from api.services import services_of
from crypto.keys import StaffKeyPair
from crypto.staff_keys import unseal_private_key


def fast_settings() -> Settings:
    """Settings matching the test app's (fast Argon2, development secret key)."""
    return Settings(kdf_profile="fast-insecure-for-tests")


@dataclass
class StaffHandle:
    user: StaffUser
    password: str
    totp_secret: str
    keypair: StaffKeyPair

    @property
    def id(self) -> uuid.UUID:
        return self.user.id


def create_staff(
    session: Session,
    role: Role,
    *,
    username: str | None = None,
    password: str | None = None,
    on_intake_duty: bool = False,
    settings: Settings | None = None,
) -> StaffHandle:
    """Create and commit an account through the real service (audited as "cli")."""
    settings = settings or fast_settings()
    username = username or f"{role.value}-{secrets.token_hex(4)}"
    password = password or f"test-{secrets.token_urlsafe(12)}"
    new = create_user(session, settings, username=username, role=role, password=password,
                      actor=CLI, now=utcnow(), on_intake_duty=on_intake_duty)
    session.commit()
    user = new.user
    # A detached snapshot: reading it later never reopens a transaction on ``session``
    # (which on SQLite would hold the write lock while the app under test works).
    session.expunge(user)
    assert user.totp_secret is not None
    secret = open_secret(settings, user.id, user.totp_secret)
    pair = StaffKeyPair.from_private_bytes(unseal_private_key(user.sealed_private_key, password))
    return StaffHandle(user=user, password=password, totp_secret=secret, keypair=pair)


def next_totp_code(client: Any, handle: StaffHandle) -> str:
    """A fresh, not-yet-used code, moving the app's auth clock forward if this window's
    codes are used up (each code works once)."""
    app = client.app
    with Session(services_of(app).engine) as s:
        last = s.exec(select(StaffUser.totp_last_step)
                      .where(col(StaffUser.id) == handle.user.id)).one()
    clock = services_of(app).clock
    step = step_at(clock.now())
    target = max(step, last + 1)
    if target > step:
        # Move to the code's own step: then even if a step boundary passes before the
        # server checks, the code is still within the one-step drift window.
        clock.advance((target - step) * STEP_SECONDS)
    return code_for_step(handle.totp_secret, target)


def login(client: Any, handle: StaffHandle) -> dict[str, Any]:
    """Sign in through the API; returns the login response body."""
    response = client.post("/api/v1/auth/login", json={
        "username": handle.user.username, "password": handle.password,
        "code": next_totp_code(client, handle),
    })
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def login_headers(client: Any, handle: StaffHandle) -> dict[str, str]:
    """{"Authorization": "Bearer ..."} for a fresh session of ``handle``."""
    return {"Authorization": f"Bearer {login(client, handle)['token']}"}


def create_partner_key(
    session: Session, *, name: str = "Partner", scopes: Sequence[str] = ("stats:read",)
) -> tuple[str, uuid.UUID]:
    """Create (or reuse) a partner called ``name`` and a new API key; returns (key, key id)."""
    partner = session.exec(select(Partner).where(col(Partner.name) == name)).first()
    if partner is None:
        partner = create_partner(session, name, actor_id=None, actor_kind="cli")
    new = create_key(session, partner, name="test key", scopes=scopes, expires_at=None,
                     now=utcnow(), actor_id=None, actor_kind="cli")
    session.commit()
    return new.secret, new.key.id


# ---- intake (api/intake) ----


def create_recovery_key_text(session: Session) -> str:
    """Create the organisation recovery key (commits) and return its private text."""
    from api.keys.service import create_recovery_key

    _key, text = create_recovery_key(session)
    session.commit()
    return text


def sample_report(**overrides: Any) -> dict[str, Any]:
    """A valid ``dokaz.submission/1`` document (override any top-level field)."""
    doc: dict[str, Any] = {
        "reporter": {"role": "relative"},
        "acts": ["detention"],
        "when": {"start": "2025-03"},
        "where": {"region": "BY-HM", "facility_type": "tsip"},
        "narrative": "He was detained at a protest.",
        "consent": {"internal_handling": True, "aggregate_statistics": True},
        "language": "be",
    }
    doc.update(overrides)
    return doc


def submit_report(client: Any, **overrides: Any) -> dict[str, Any]:
    """POST a sample report as JSON; returns the 201 body (receipt, reference, files).
    The app needs a recovery key (create_recovery_key_text)."""
    response = client.post("/api/v1/submissions", json=sample_report(**overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def app_clock(client: Any) -> Clock:
    """The auth clock of a TestClient's app (advance it to test expiry without sleeping)."""
    return services_of(client.app).clock


def app_settings(client: Any) -> Settings:
    return services_of(client.app).settings


# ---- two-person approvals (api/approvals) ----


def approve(client: Any, approver: StaffHandle, approval_id: str | uuid.UUID) -> dict[str, Any]:
    """A coordinator (not the requester) approves a request through the API; returns it."""
    response = client.post(f"/api/v1/approvals/{approval_id}/approve",
                           headers=login_headers(client, approver))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "approved"
    return body


def approve_all(client: Any, approver: StaffHandle, pending: Sequence[dict[str, Any]]) -> None:
    """Approve requests in a workable order: reader approvals first."""
    for item in sorted(pending, key=lambda p: p["kind"] != "reader"):
        approve(client, approver, item["id"])


def put_on_intake_duty(
    client: Any, admin_headers: dict[str, str], user_id: uuid.UUID, approver: StaffHandle
) -> None:
    """Intake duty as the API now gives it: an admin asks, a coordinator approves."""
    response = client.put(f"/api/v1/admin/users/{user_id}/intake-duty", headers=admin_headers,
                          json={"on_intake_duty": True})
    assert response.status_code == 202, response.text
    approve(client, approver, response.json()["id"])
