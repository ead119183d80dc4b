"""The admin pages for partners, the organisation profile and the audit export, over HTTP
on both engines: a key issued on a page works against the partner API, is shown once and
stops working when revoked; the profile set on its page is printed by the referral draft;
the export downloads a log that verifies and holds no protected content; other roles are
refused."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.audit import actions
from api.audit.chain import GENESIS_HASH, canonical_details, compute_hash
from api.auth.roles import Role
from api.cases.referrals import profile
from api.console import organisation, pages
from api.core.settings import Settings
from api.partners.models import PartnerApiKey
from tests.console.helpers import post, sign_in
from tests.factories import create_recovery_key_text, create_staff, submit_report

SECRET = re.compile(r'value="(dkp_[A-Za-z0-9_-]+)"')
PARTNER_LINK = re.compile(r'href="/staff/admin/partners/([0-9a-f-]{36})"')
REVOKE = re.compile(r'action="(/staff/admin/partner-keys/[0-9a-f-]{36}/revoke)"')
CASE = re.compile(r'href="/staff/cases/([0-9a-f-]{36})">([A-Z0-9-]+)<')
NARRATIVE = "Canary narrative: the guard at Akrestsina named Zebrowski."


def as_(client: TestClient, handle: object, lang: str = "en") -> str:
    client.cookies.clear()
    return sign_in(client, handle, lang=lang)  # type: ignore[arg-type]


def me_with(client: TestClient, secret: str) -> object:
    return client.get("/api/v1/partner/me", headers={"X-API-Key": secret})


def issue_key(client: TestClient, csrf: str, name: str) -> tuple[str, str]:
    """Create a partner and issue it a key on the pages; (partner id, the key page HTML)."""
    made = post(client, "/staff/admin/partners", csrf, name=name)
    assert made.status_code == 303 and made.headers["location"].endswith("?done=created")
    partner_id = made.headers["location"].split("/")[-1].split("?")[0]
    page = client.get(made.headers["location"])
    assert name in page.text and "No key yet" in page.text
    issued = client.post(f"/staff/admin/partners/{partner_id}/keys", data={
        "csrf": csrf, "name": "reporting server", "scopes": "stats:read", "expires_on": ""},
        follow_redirects=False)
    assert issued.status_code == 200  # the secret is in this answer, not behind a redirect
    assert "no-store" in issued.headers["cache-control"]
    assert "will not be shown again" in issued.text
    return partner_id, issued.text


def test_a_partner_key_is_shown_once_works_and_stops_when_revoked(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    admin = create_staff(session, Role.ADMIN, settings=settings)
    csrf = as_(app_client, admin)
    listing = app_client.get("/staff/admin/partners")
    assert listing.status_code == 200 and "No partner yet" in listing.text
    assert 'href="/staff/admin/partners"' in listing.text  # in the admin's nav

    partner_id, key_page = issue_key(app_client, csrf, "Belarus Statistics Watch")
    secrets = SECRET.findall(key_page)
    assert len(secrets) == 1 and key_page.count(secrets[0]) == 1
    secret = secrets[0]

    works = me_with(app_client, secret)
    assert works.status_code == 200  # type: ignore[attr-defined]
    assert works.json()["name"] == "Belarus Statistics Watch"  # type: ignore[attr-defined]
    assert works.json()["scopes"] == ["stats:read"]  # type: ignore[attr-defined]

    # Only the hash and the prefix are stored; no page shows the secret again.
    session.expire_all()
    key = session.exec(select(PartnerApiKey)).one()
    assert key.key_hash == hashlib.sha256(secret.encode()).digest()
    assert key.prefix == secret[:12] and key.name == "reporting server"
    key_id, prefix = key.id, key.prefix
    session.rollback()  # on SQLite every transaction holds the write lock: end the read
    partner_page = app_client.get(f"/staff/admin/partners/{partner_id}")
    assert secret not in partner_page.text and prefix in partner_page.text
    assert str(key_id) in partner_page.text
    listing = app_client.get("/staff/admin/partners")
    assert secret not in listing.text
    assert PARTNER_LINK.findall(listing.text) == [partner_id]
    assert "the statistics tables" in listing.text  # what it may pull

    revoke = REVOKE.search(partner_page.text)
    assert revoke is not None
    without_token = post(app_client, revoke.group(1), "not-the-token")
    assert without_token.status_code == 403
    assert me_with(app_client, secret).status_code == 200  # type: ignore[attr-defined]
    done = post(app_client, revoke.group(1), csrf)
    assert done.status_code == 303
    assert done.headers["location"] == f"/staff/admin/partners/{partner_id}?done=revoked"
    refused = me_with(app_client, secret)
    assert refused.status_code == 401  # type: ignore[attr-defined]
    session.expire_all()
    assert session.get(PartnerApiKey, key_id).revoked_at is not None  # type: ignore[union-attr]
    session.rollback()
    after = app_client.get(done.headers["location"])
    assert "The key is revoked" in after.text and REVOKE.search(after.text) is None
    assert "nothing: no key works" in app_client.get("/staff/admin/partners").text

    # An expiry in the past or not a day, a name the service refuses, a second partner of
    # the same name: nothing is stored.
    for day in ("2000-01-01", "soon"):
        refused_key = post(app_client, f"/staff/admin/partners/{partner_id}/keys", csrf,
                           name="old", scopes="stats:read", expires_on=day)
        assert refused_key.status_code == 422 and SECRET.search(refused_key.text) is None
    assert post(app_client, "/staff/admin/partners", csrf, name="   ").status_code == 422
    assert post(app_client, "/staff/admin/partners", csrf,
                name="Belarus Statistics Watch").status_code == 409
    assert PARTNER_LINK.findall(app_client.get("/staff/admin/partners").text) == [partner_id]
    session.expire_all()
    assert len(session.exec(select(PartnerApiKey)).all()) == 1
    session.rollback()


def test_the_profile_is_set_on_its_page_and_printed_by_the_referral_draft(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)
    admin = create_staff(session, Role.ADMIN, settings=settings)
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    reference = submit_report(
        app_client, reporter={"role": "relative", "relationship": "brother"},
        acts=["disappearance"], when={"start": "2025-03", "ongoing": True},
        where={"region": "BY-HR", "facility_type": "border_checkpoint"},
        persons=[{"role": "victim", "name": "Canary Missingson", "whereabouts_unknown": True}],
        consent={"internal_handling": True, "share_un": True, "un_name_to_government": True,
                 "aggregate_statistics": True})["reference"]

    csrf = as_(app_client, admin, lang="ru")
    empty = app_client.get("/staff/admin/organisation-profile")
    assert empty.status_code == 200
    assert pages.gettext("ru", "Not set yet: referral drafts list the submitting organisation "
                               "as missing until it is.") in empty.text
    wrong = post(app_client, "/staff/admin/organisation-profile", csrf, name=" ",
                 contact="x" * 501, source_confidential="on")
    assert wrong.status_code == 422
    required = pages.gettext("ru", organisation.REQUIRED)
    too_long = pages.gettext("ru", organisation.TOO_LONG) % {"limit": 500}
    assert required != organisation.REQUIRED  # the console's language, not English
    assert f'id="profile-name-error">{required}<' in wrong.text
    assert f'id="profile-contact-error">{too_long}<' in wrong.text
    session.expire_all()
    assert profile.get(session) is None
    session.rollback()

    saved = post(app_client, "/staff/admin/organisation-profile", csrf,
                 name="Canary Rights Centre", contact="Vilnius, rights@example.org")
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
    session.expire_all()
    row = profile.get(session)
    assert row is not None and row.name == "Canary Rights Centre"
    assert row.contact == "Vilnius, rights@example.org"
    assert row.source_confidential is False  # the box was left unticked
    session.rollback()
    page = app_client.get(saved.headers["location"])
    assert "Canary Rights Centre · Vilnius, rights@example.org" in page.text
    assert 'value="Canary Rights Centre"' in page.text

    as_(app_client, worker)
    ids = {ref: cid for cid, ref in CASE.findall(app_client.get("/staff/queue?tab=all").text)}
    draft = app_client.get(f"/staff/cases/{ids[reference]}/referral-drafts/wgeid")
    assert draft.status_code == 200
    assert "Canary Rights Centre" in draft.text and "rights@example.org" in draft.text


def _verify(rows: list[dict[str, object]]) -> None:
    """Check an exported log on its own: every entry's hash, and the links between them."""
    prev = GENESIS_HASH
    for n, row in enumerate(rows, start=1):
        assert row["seq"] == n and row["prev_hash"] == prev
        details = row["details"]
        assert isinstance(details, dict)
        created = datetime.fromisoformat(str(row["created_at"]).replace("Z", "+00:00"))
        assert row["entry_hash"] == compute_hash(
            seq=n, created_at=created, action=str(row["action"]),
            actor_kind=str(row["actor_kind"]), actor_id=row["actor_id"],  # type: ignore[arg-type]
            case_id=row["case_id"], target=row["target"],  # type: ignore[arg-type]
            details=canonical_details(details), prev_hash=prev)
        prev = str(row["entry_hash"])


def test_the_audit_export_downloads_a_log_that_verifies_and_holds_no_content(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)
    admin = create_staff(session, Role.ADMIN, settings=settings)
    submit_report(app_client, narrative=NARRATIVE)
    csrf = as_(app_client, admin)
    _partner, key_page = issue_key(app_client, csrf, "Export Check Partner")
    secret = SECRET.findall(key_page)[0]
    assert post(app_client, "/staff/admin/organisation-profile", csrf,
                name="Canary Profile Org", contact="canary-contact@example.org",
                source_confidential="on").status_code == 303

    system = app_client.get("/staff/admin/system")
    assert 'href="/staff/admin/audit/export"' in system.text
    assert "It holds no case content" in system.text
    form = app_client.get("/staff/admin/audit/export")
    assert form.status_code == 200 and 'action="/staff/admin/audit/export"' in form.text

    download = post(app_client, "/staff/admin/audit/export", csrf, format="json")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/json")
    assert re.fullmatch(r'attachment; filename="dokaz-audit-\d{8}T\d{6}Z\.json"',
                        download.headers["content-disposition"])
    assert download.headers["cache-control"] == "no-store"
    rows = json.loads(download.text)
    _verify(rows)
    done = {row["action"] for row in rows}
    assert done >= {actions.PARTNER_CREATED, actions.PARTNER_KEY_CREATED,
                    actions.ORGANISATION_PROFILE_CHANGED, actions.AUDIT_EXPORTED}
    for protected in (secret, NARRATIVE, "Zebrowski", "canary-contact@example.org"):
        assert protected not in download.text

    as_csv = post(app_client, "/staff/admin/audit/export", csrf, format="csv")
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(parsed) == len(rows) + 1  # and this export's own entry
    assert parsed[-1]["action"] == actions.AUDIT_EXPORTED
    assert post(app_client, "/staff/admin/audit/export", csrf, format="xml").status_code == 422
    assert post(app_client, "/staff/admin/audit/export", "stale", format="csv").status_code == 403


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.CASEWORKER, Role.LAWYER])
def test_other_roles_are_refused_the_admin_pages(
        app_client: TestClient, session: Session, settings: Settings, role: Role) -> None:
    someone = create_staff(session, role, settings=settings)
    csrf = as_(app_client, someone)
    for path in ("/staff/admin/partners", "/staff/admin/organisation-profile",
                 "/staff/admin/audit/export"):
        page = app_client.get(path)
        assert page.status_code == 403 and "You cannot open this" in page.text
    assert 'href="/staff/admin/partners"' not in app_client.get("/staff/account").text
    assert post(app_client, "/staff/admin/partners", csrf, name="Sneaky").status_code == 403
    assert post(app_client, "/staff/admin/organisation-profile", csrf, name="Sneaky",
                contact="x").status_code == 403
    exported = post(app_client, "/staff/admin/audit/export", csrf, format="json")
    assert exported.status_code == 403 and "seq" not in exported.text
    session.expire_all()
    assert profile.get(session) is None
    assert session.exec(select(PartnerApiKey)).first() is None
