"""The act editor over HTTP, on both engines: coding a detention with a torture allegation
over what the submitter said at intake, a refused value, and a colleague's save in between
shown next to one's own instead of overwritten."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.auth.roles import Role
from api.core.settings import Settings
from tests.console.helpers import post, sign_in
from tests.factories import create_recovery_key_text, create_staff, submit_report

ACT_LINK = re.compile(r'href="/staff/cases/([0-9a-f-]{36})/acts/([0-9a-f-]{36})"')


def _form(page: str) -> dict[str, str]:
    """The editor's current values as the browser would send them (selects, inputs)."""
    values: dict[str, str] = {}
    for name, value in re.findall(r'<input[^>]* name="([a-z_]+)"[^>]* value="([^"]*)"', page):
        if name != "csrf":  # each post sends its own session's token
            values.setdefault(name, value)
    for name, body in re.findall(r'<select[^>]* name="([a-z_]+)"[^>]*>(.*?)</select>', page,
                                 flags=re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        values[name] = chosen.group(1) if chosen else ""
    return values


def test_code_a_detention_with_torture_then_a_colleagues_save_is_not_overwritten(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    colleague = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    submit_report(app_client, acts=["detention"], narrative="Taken to Okrestina, beaten.")
    csrf = sign_in(app_client, worker)
    queue = app_client.get("/staff/queue?tab=all").text
    case_id = re.search(r'/staff/cases/([0-9a-f-]{36})"', queue).group(1)  # type: ignore[union-attr]
    case_page = app_client.get(f"/staff/cases/{case_id}").text
    assert "as stated at intake, not confirmed" in case_page.split('id="acts-heading"')[1]
    _, act_id = ACT_LINK.search(case_page).groups()  # type: ignore[union-attr]
    editor = app_client.get(f"/staff/cases/{case_id}/acts/{act_id}")
    assert editor.status_code == 200
    fields = _form(editor.text)
    assert fields["act_type"] == "detention"

    sent = {**fields, "csrf": csrf, "has_detention": "on", "facility_type": "tsip",
            "ongoing": "on", "has_torture": "on", "start_month": "2020-08",
            "location": "Okrestina, cell 7"}
    saved = app_client.post(f"/staff/cases/{case_id}/acts/{act_id}",
                            data={**sent, "methods": ["beating", "forced_postures"]},
                            follow_redirects=False)
    assert saved.status_code == 303, saved.text.split("<main")[1][:1500]
    detail = app_client.get(f"/staff/cases/{case_id}").text
    acts = detail.split('id="acts-heading"')[1].split("</section>")[0]
    assert "torture or ill-treatment alleged" in acts
    assert "as stated at intake, not confirmed" not in acts  # the act is the caseworker's now

    # A value outside its vocabulary is refused, naming the field; nothing is saved.
    stale = _form(app_client.get(f"/staff/cases/{case_id}/acts/{act_id}").text)
    bad = post(app_client, f"/staff/cases/{case_id}/acts/{act_id}", csrf,
               **{**stale, "has_detention": "on", "facility_type": "palace"})
    assert bad.status_code == 422 and "Kind of facility" in bad.text

    # The colleague saves first; the worker's save from the older form shows both.
    csrf2 = sign_in(app_client, colleague)
    theirs = post(app_client, f"/staff/cases/{case_id}/acts/{act_id}", csrf2,
                  **{**stale, "has_detention": "on", "region": "BY-BR"})
    assert theirs.status_code == 303
    csrf = sign_in(app_client, worker)  # (one test client: the worker signs in again)
    mine = post(app_client, f"/staff/cases/{case_id}/acts/{act_id}", csrf,
                **{**stale, "has_detention": "on", "region": "BY-VI"})
    assert mine.status_code == 409
    assert "BY-BR" in mine.text and "BY-VI" in mine.text
    now = _form(app_client.get(f"/staff/cases/{case_id}/acts/{act_id}").text)
    assert now["region"] == "BY-BR"  # the colleague's save stands
