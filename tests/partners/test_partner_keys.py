"""Partner organisations and API keys: shown once, hashed, scoped, expiring, revocable."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from api.auth.principals import PartnerPrincipal
from api.auth.roles import Role
from api.core.error_handlers import install_error_handlers
from api.core.settings import Settings
from api.partners.dependencies import require_partner_scope
from api.partners.models import PartnerApiKey
from api.services import build_services
from tests.factories import app_clock, create_partner_key, create_staff, login_headers

StatsPartner = Annotated[PartnerPrincipal, Depends(require_partner_scope("stats:read"))]


def test_admin_creates_partner_and_key_shown_once(app_client: TestClient, session: Session) -> None:
    admin = login_headers(app_client, create_staff(session, Role.ADMIN))
    partner = app_client.post("/api/v1/admin/partners", headers=admin, json={"name": "Viasna"})
    assert partner.status_code == 201
    pid = partner.json()["id"]
    assert app_client.post("/api/v1/admin/partners", headers=admin,
                           json={"name": "Viasna"}).status_code == 409
    created = app_client.post(f"/api/v1/admin/partners/{pid}/keys", headers=admin,
                              json={"name": "reporting", "scopes": ["stats:read"]})
    assert created.status_code == 201
    secret = created.json()["api_key"]
    assert secret.startswith("dkp_") and len(secret) >= 40
    listed = app_client.get(f"/api/v1/admin/partners/{pid}/keys", headers=admin)
    assert secret not in listed.text and listed.json()[0]["prefix"] == secret[:12]
    stored = session.exec(select(PartnerApiKey.key_hash)).one()
    session.rollback()
    assert stored == hashlib.sha256(secret.encode()).digest()

    for headers in ({"X-API-Key": secret}, {"Authorization": f"Bearer {secret}"}):
        me = app_client.get("/api/v1/partner/me", headers=headers)
        assert me.status_code == 200 and me.json()["name"] == "Viasna"
        assert me.json()["scopes"] == ["stats:read"]
    # A staff token is not a partner key, and a partner key is not a staff token.
    assert app_client.get("/api/v1/partner/me", headers=admin).status_code == 401
    assert app_client.get("/api/v1/auth/me", headers={"X-API-Key": secret}).status_code == 401
    assert app_client.get("/api/v1/auth/me",
                          headers={"Authorization": f"Bearer {secret}"}).status_code == 401

    bad = app_client.post(f"/api/v1/admin/partners/{pid}/keys", headers=admin,
                          json={"name": "x", "scopes": ["cases:read"]})
    assert bad.status_code == 422 and "stats:read" in bad.json()["error"]["message"]

    key_id = created.json()["key"]["id"]
    revoked = app_client.post(f"/api/v1/admin/partner-keys/{key_id}/revoke", headers=admin)
    assert revoked.json()["revoked_at"] is not None
    r = app_client.get("/api/v1/partner/me", headers={"X-API-Key": secret})
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


def test_expiry_and_garbage_keys(app_client: TestClient, session: Session, engine: Engine) -> None:
    secret, _ = create_partner_key(session)
    with engine.begin() as conn:
        conn.execute(text("UPDATE partner_api_key SET expires_at = :t"),
                     {"t": app_clock(app_client).now() + timedelta(days=1)})
    assert app_client.get("/api/v1/partner/me", headers={"X-API-Key": secret}).status_code == 200
    app_clock(app_client).advance(2 * 86400)
    r = app_client.get("/api/v1/partner/me", headers={"X-API-Key": secret})
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    for value in ("dkp_" + "A" * 43, "nonsense", ""):
        r = app_client.get("/api/v1/partner/me", headers={"X-API-Key": value})
        assert r.status_code == 401 and r.json()["error"]["message"]


def test_scope_is_enforced(settings: Settings, engine: Engine, session: Session) -> None:
    secret, key_id = create_partner_key(session)
    app = FastAPI()
    app.state.services = build_services(settings, engine)
    install_error_handlers(app)

    @app.get("/probe")
    def probe(partner: StatsPartner) -> dict[str, str]:
        return {"partner": partner.name}

    client = TestClient(app)
    assert client.get("/probe", headers={"X-API-Key": secret}).json() == {"partner": "Partner"}
    key = session.exec(select(PartnerApiKey).where(col(PartnerApiKey.id) == key_id)).one()
    key.scopes = "other:scope"
    session.add(key)
    session.commit()
    r = client.get("/probe", headers={"X-API-Key": secret})
    assert r.status_code == 403 and "stats:read" in r.json()["error"]["message"]
