"""/api/v1/admin/jobs and notification subscriptions: admins only."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.auth.roles import Role
from api.core.db import unit_of_work
from api.core.settings import Settings
from api.jobs import service
from api.jobs.models import DEAD, Job
from tests.factories import create_staff, login_headers


@pytest.fixture
def admin_headers(app_client: TestClient, engine: Engine, settings: Settings) -> dict[str, str]:
    """Sign-in headers of a new admin: every route here is for admins."""
    with Session(engine, expire_on_commit=False) as s:
        handle = create_staff(s, Role.ADMIN, settings=settings)
    return login_headers(app_client, handle)


def test_admin_lists_and_retries_dead_jobs(
    app_client: TestClient, engine: Engine, settings: Settings, admin_headers: dict[str, str]
) -> None:
    with unit_of_work(engine) as s:
        job_id = service.enqueue(s, "shred_case", {"case_id": str(uuid.uuid4())},
                                 settings=settings)
        other = service.enqueue(s, "prune_jobs", settings=settings)
    with unit_of_work(engine) as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.status, job.attempts, job.last_error = DEAD, 8, "KeyError"

    r = app_client.get("/api/v1/admin/jobs", params={"status": "dead"}, headers=admin_headers)
    assert r.status_code == 200
    assert [j["id"] for j in r.json()] == [str(job_id)]
    assert r.json()[0]["last_error"] == "KeyError"
    r = app_client.get("/api/v1/admin/jobs/summary", headers=admin_headers)
    assert r.json()["counts"] == {"dead": 1, "queued": 1}
    r = app_client.get("/api/v1/admin/jobs", params={"status": "lost"}, headers=admin_headers)
    assert r.status_code == 422 and "queued" in r.json()["error"]["message"]

    r = app_client.post(f"/api/v1/admin/jobs/{job_id}/retry", headers=admin_headers)
    assert r.status_code == 200 and r.json()["status"] == "queued"
    assert r.json()["attempts"] == 0
    r = app_client.post(f"/api/v1/admin/jobs/{other}/retry", headers=admin_headers)
    assert r.status_code == 409 and "dead" in r.json()["error"]["message"]
    r = app_client.post(f"/api/v1/admin/jobs/{uuid.uuid4()}/retry", headers=admin_headers)
    assert r.status_code == 404

    with Session(engine, expire_on_commit=False) as s:
        worker = create_staff(s, Role.CASEWORKER, settings=settings)
    caseworker = login_headers(app_client, worker)
    assert app_client.get("/api/v1/admin/jobs", headers=caseworker).status_code == 403
    assert app_client.get("/api/v1/admin/jobs").status_code == 401


def test_admin_manages_notification_subscriptions(
    app_client: TestClient, engine: Engine, settings: Settings, admin_headers: dict[str, str]
) -> None:
    with Session(engine, expire_on_commit=False) as s:
        coordinator = create_staff(s, Role.COORDINATOR, settings=settings)
    url = f"/api/v1/admin/notifications/subscriptions/{coordinator.id}"
    r = app_client.put(url, json={"email": "coord@example.org"}, headers=admin_headers)
    assert r.status_code == 200 and r.json()["digest_interval_minutes"] == 60
    r = app_client.put(url, json={"email": "c2@example.org", "digest_interval_minutes": 1440},
                       headers=admin_headers)
    sub_id = r.json()["id"]
    listed = app_client.get("/api/v1/admin/notifications/subscriptions",
                            headers=admin_headers).json()
    assert [(x["email"], x["digest_interval_minutes"]) for x in listed] == [
        ("c2@example.org", 1440)]
    bad = app_client.put(url, json={"email": "not an address"}, headers=admin_headers)
    assert bad.status_code == 422
    missing = app_client.put(f"/api/v1/admin/notifications/subscriptions/{uuid.uuid4()}",
                             json={"email": "x@example.org"}, headers=admin_headers)
    assert missing.status_code == 404
    r = app_client.delete(f"/api/v1/admin/notifications/subscriptions/{sub_id}",
                          headers=admin_headers)
    assert r.status_code == 204
    assert app_client.get("/api/v1/admin/notifications/subscriptions",
                          headers=admin_headers).json() == []
