"""Coordinator and admin pages over HTTP, on both engines: assignment, a grant approved by
a second coordinator, revoking, merging a duplicate after its preview; an admin's new
account that reads nothing until a coordinator approves it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.auth.roles import Role
from api.core.settings import Settings
from tests.console.helpers import post, sign_in
from tests.factories import create_recovery_key_text, create_staff, submit_report

CASE_LINK = re.compile(r'href="/staff/cases/([0-9a-f-]{36})">([A-Z0-9-]+)<')


@pytest.fixture
def intake(session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)


def case_ids(client: TestClient) -> dict[str, str]:
    """reference -> id of the cases in the signed-in person's open queue."""
    page = client.get("/staff/queue?tab=all")
    assert page.status_code == 200
    return {ref: cid for cid, ref in CASE_LINK.findall(page.text)}


def as_(client: TestClient, handle: object) -> str:
    client.cookies.clear()
    return sign_in(client, handle)  # type: ignore[arg-type]


def test_assign_grant_with_a_second_coordinator_revoke_and_merge(
        app_client: TestClient, session: Session, settings: Settings, intake: None) -> None:
    first = create_staff(session, Role.COORDINATOR, on_intake_duty=True, settings=settings)
    second = create_staff(session, Role.COORDINATOR, on_intake_duty=True, settings=settings)
    worker = create_staff(session, Role.CASEWORKER, settings=settings)
    colleague = create_staff(session, Role.CASEWORKER, settings=settings)
    one = submit_report(app_client, narrative="First account of the arrest.")["reference"]
    dup = submit_report(app_client, narrative="The same arrest, told by a neighbour.")[
        "reference"]

    csrf = as_(app_client, first)
    ids = case_ids(app_client)
    case = ids[one]
    page = app_client.get(f"/staff/cases/{case}")
    assert worker.user.username in page.text  # offered for assignment and access
    version = re.search(r'name="version" value="(\d+)"', page.text)
    assert version is not None
    done = post(app_client, f"/staff/cases/{case}/assignee", csrf,
                assignee_id=str(worker.user.id), version=version.group(1))
    assert done.status_code == 303
    asked = post(app_client, f"/staff/cases/{case}/access", csrf, staff_id=str(colleague.user.id))
    assert asked.status_code == 303 and asked.headers["location"].endswith("grant_requested")
    # The coordinator who asked cannot approve their own request.
    mine = app_client.get("/staff/approvals")
    assert "/approve" not in mine.text

    csrf2 = as_(app_client, second)
    waiting = app_client.get("/staff/approvals")
    approval = re.search(r'action="/staff/approvals/([0-9a-f-]{36})/approve"', waiting.text)
    assert approval is not None
    assert post(app_client, f"/staff/approvals/{approval.group(1)}/approve", csrf2
                ).status_code == 303

    as_(app_client, colleague)
    assert "First account of the arrest." in app_client.get(f"/staff/cases/{case}").text

    csrf = as_(app_client, first)
    assert post(app_client, f"/staff/cases/{case}/access/{colleague.user.id}/revoke", csrf
                ).status_code == 303
    preview = app_client.get(f"/staff/cases/{case}/merge", params={"reference": dup.lower()})
    assert preview.status_code == 200 and one in preview.text and dup in preview.text
    source = re.search(r'name="from_case_id" value="([0-9a-f-]{36})"', preview.text)
    assert source is not None
    merged = post(app_client, f"/staff/cases/{case}/merge", csrf, from_case_id=source.group(1))
    assert merged.status_code == 303
    after = app_client.get(merged.headers["location"])
    assert "The same arrest, told by a neighbour." in after.text
    assert "First account of the arrest." in after.text

    as_(app_client, colleague)
    assert app_client.get(f"/staff/cases/{case}").status_code in (403, 404)  # revoked
    unknown = app_client.get(f"/staff/cases/{case}/merge", params={"reference": "DKZ-NONE"})
    assert unknown.status_code == 403  # caseworkers have no coordinator pages at all


def test_an_admins_new_account_reads_nothing_until_a_coordinator_approves(
        app_client: TestClient, session: Session, settings: Settings, intake: None) -> None:
    admin = create_staff(session, Role.ADMIN, settings=settings)
    coordinator = create_staff(session, Role.COORDINATOR, on_intake_duty=True,
                               settings=settings)
    csrf = as_(app_client, admin)
    made = post(app_client, "/staff/admin/accounts", csrf, username="new-caseworker",
                role="caseworker", password="a-first-password-1")
    assert made.status_code == 200
    assert "<svg" in made.text and "otpauth://totp/" in made.text
    assert "a-first-password-1" not in made.text
    listing = app_client.get("/staff/admin/accounts")
    assert "new-caseworker" in listing.text
    assert "not until a coordinator approves" in listing.text

    csrf = as_(app_client, coordinator)
    waiting = app_client.get("/staff/approvals")
    assert "new-caseworker" in waiting.text
    approval = re.search(r'action="/staff/approvals/([0-9a-f-]{36})/approve"', waiting.text)
    assert approval is not None
    assert post(app_client, f"/staff/approvals/{approval.group(1)}/approve", csrf
                ).status_code == 303
    assert "new-caseworker" not in app_client.get("/staff/approvals").text

    as_(app_client, admin)
    assert "not until a coordinator approves" not in app_client.get(
        "/staff/admin/accounts").text


def test_the_admins_system_page_verifies_the_audit_log(app_client: TestClient,
                                                      session: Session,
                                                      settings: Settings) -> None:
    admin = create_staff(session, Role.ADMIN, settings=settings)
    csrf = as_(app_client, admin)
    page = app_client.get("/staff/admin/system")
    assert page.status_code == 200 and "No job has given up." in page.text
    verified = post(app_client, "/staff/admin/audit/verify", csrf)
    assert verified.status_code == 200
    assert "The audit log is intact." in verified.text
