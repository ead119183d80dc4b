"""The organisation profile: set by an admin over HTTP, audited, printed on the drafts."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.audit import actions
from api.audit.models import AuditEntry
from api.core.settings import Settings
from tests.cases.factory import Staff
from tests.cases.referrals import fixture as fx
from tests.factories import login_headers

URL = "/api/v1/admin/organisation-profile"


def test_admin_sets_the_profile_and_drafts_print_it(app_client: TestClient, session: Session,
                                                    settings: Settings, staff: Staff) -> None:
    case = fx.make(session, settings, staff, with_profile=False)
    admin = login_headers(app_client, staff.admin)
    cw = login_headers(app_client, staff.cw)
    session.rollback()
    assert app_client.get(URL, headers=admin).status_code == 404
    draft = app_client.get(f"/api/v1/cases/{case.id}/referral-drafts/wgad?lang=es", headers=cw)
    assert draft.status_code == 200 and "source.organisation" in draft.json()["missing"]
    # Only admins may set it; the body is checked.
    assert app_client.put(URL, json=fx.ORGANISATION.model_dump(), headers=cw).status_code == 403
    assert app_client.put(URL, json={"name": ""}, headers=admin).status_code == 422
    blank = {"name": "  ", "contact": "somewhere"}
    assert app_client.put(URL, json=blank, headers=admin).status_code == 422
    r = app_client.put(URL, json=fx.ORGANISATION.model_dump(), headers=admin)
    assert r.status_code == 200 and r.json()["name"] == fx.ORGANISATION.name
    changed = {**fx.ORGANISATION.model_dump(), "source_confidential": False}
    assert app_client.put(URL, json=changed, headers=admin).json()["source_confidential"] is False
    assert app_client.get(URL, headers=admin).json()["contact"] == fx.ORGANISATION.contact
    got = app_client.get(f"/api/v1/cases/{case.id}/referral-drafts/wgad?lang=es", headers=cw)
    assert got.status_code == 200, got.text
    doc = got.json()
    assert doc["source"]["organisation"]["name"] == fx.ORGANISATION.name
    assert doc["source"]["confidential"] is False and "source.organisation" not in doc["missing"]
    md = app_client.get(f"/api/v1/cases/{case.id}/referral-drafts/wgad?lang=fr&format=markdown",
                        headers=cw)
    assert md.text.startswith("# Projet de communication au GTDA")
    assert "La source ne demande pas" in md.text
    entries = list(session.exec(select(AuditEntry).where(
        AuditEntry.action == actions.ORGANISATION_PROFILE_CHANGED).order_by(col(AuditEntry.seq))))
    assert [json.loads(e.details) for e in entries][-2:] == [
        {"changed": "contact,name,source_confidential"}, {"changed": "source_confidential"}]
