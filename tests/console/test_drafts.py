"""Referral drafts in the console, on both engines: a disappearance reported with consent
to share with the UN previews and downloads as the API's WGEID draft; without that consent
the page names what is missing."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.auth.roles import Role
from api.core.settings import Settings
from tests.console.helpers import sign_in
from tests.factories import create_recovery_key_text, create_staff, submit_report

CASE = re.compile(r'href="/staff/cases/([0-9a-f-]{36})">([A-Z0-9-]+)<')


def test_a_wgeid_draft_previews_downloads_and_names_a_missing_consent(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    shared = submit_report(
        app_client, reporter={"role": "relative", "relationship": "brother"},
        acts=["disappearance"], when={"start": "2025-03", "ongoing": True},
        where={"region": "BY-HR", "facility_type": "border_checkpoint"},
        persons=[{"role": "victim", "name": "Canary Missingson", "whereabouts_unknown": True}],
        consent={"internal_handling": True, "share_un": True, "un_name_to_government": True,
                 "aggregate_statistics": True})["reference"]
    unshared = submit_report(
        app_client, reporter={"role": "relative"}, acts=["disappearance"],
        persons=[{"role": "victim", "name": "Canary Other"}])["reference"]
    sign_in(app_client, worker)
    ids = {ref: cid for cid, ref in CASE.findall(app_client.get("/staff/queue?tab=all").text)}

    case_page = app_client.get(f"/staff/cases/{ids[shared]}").text
    assert f"/staff/cases/{ids[shared]}/referral-drafts/wgeid" in case_page
    preview = app_client.get(f"/staff/cases/{ids[shared]}/referral-drafts/wgeid",
                             params={"lang": "fr"})
    assert preview.status_code == 200 and "Canary Missingson" in preview.text
    download = app_client.get(f"/staff/cases/{ids[shared]}/referral-drafts/wgeid",
                              params={"lang": "fr", "download": "1"})
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/markdown")
    assert f'filename="{shared}-wgeid-fr.md"' in download.headers["content-disposition"]
    assert "Canary Missingson" in download.text

    refused = app_client.get(f"/staff/cases/{ids[unshared]}/referral-drafts/wgeid")
    assert refused.status_code == 409
    assert "consent" in refused.text.lower()
    assert app_client.get(f"/staff/cases/{ids[shared]}/referral-drafts/nope").status_code == 404
