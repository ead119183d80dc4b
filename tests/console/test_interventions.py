"""A case's interventions in the console, over HTTP on both engines: recorded, edited and
removed through the API's own metadata edit, a refused value, and a colleague's save in
between kept and shown next to one's own. (Who may open each page: tests/auth/access_matrix.py.)"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.auth.roles import Role
from api.core.settings import Settings
from tests.console.forms import browser_form
from tests.console.helpers import sign_in
from tests.factories import create_recovery_key_text, create_staff, login_headers, submit_report

EDIT_LINK = re.compile(r'href="/staff/cases/[0-9a-f-]{36}/interventions/([0-9a-f-]{36})"')


def test_record_and_edit_an_intervention_and_a_colleagues_save_is_kept(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    colleague = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    submit_report(app_client, acts=["detention"])
    api = login_headers(app_client, worker)
    (case,) = app_client.get("/api/v1/cases", headers=api).json()["items"]
    case_id = case["id"]
    base = f"/staff/cases/{case_id}/interventions"

    csrf = sign_in(app_client, worker)
    case_page = app_client.get(f"/staff/cases/{case_id}").text
    section = case_page.split('id="interventions-heading"')[1].split("</section>")[0]
    assert "No intervention is recorded yet." in section and f'href="{base}/new"' in section

    form = browser_form(app_client.get(f"{base}/new").text, base)
    form.update({"csrf": [csrf], "intervention_type": ["un_mechanism"], "month": ["2021-02"],
                 "status": ["submitted"], "reference": ["WGAD 12/2021"],
                 "correspondence": ["Sent by e-mail."], "response": [""]})
    added = app_client.post(base, data=form, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == f"{base}?done=saved"
    listing = app_client.get(added.headers["location"]).text
    assert "The intervention is saved." in listing and "WGAD 12/2021" in listing
    (stored,) = app_client.get(f"/api/v1/cases/{case_id}", headers=api).json()["metadata"][
        "interventions"]
    assert (stored["intervention_type"], stored["month"], stored["status"]) == (
        "un_mechanism", "2021-02", "submitted")
    assert stored["private"] == {"reference": "WGAD 12/2021",
                                 "correspondence": "Sent by e-mail.", "response": None}
    intervention_id = EDIT_LINK.search(listing).group(1)  # type: ignore[union-attr]
    assert intervention_id == stored["id"]

    # Edited: the status moves on and the response is written down; the id stays.
    action = f"{base}/{intervention_id}"
    stale_page = app_client.get(action).text
    edit = browser_form(stale_page, action)
    assert edit["reference"] == ["WGAD 12/2021"] and edit["status"] == ["submitted"]
    edit.update({"csrf": [csrf], "status": ["in_progress"], "response": ["Acknowledged."]})
    assert app_client.post(action, data=edit, follow_redirects=False).status_code == 303
    (now,) = app_client.get(f"/api/v1/cases/{case_id}", headers=api).json()["metadata"][
        "interventions"]
    assert (now["id"], now["status"], now["private"]["response"]) == (
        intervention_id, "in_progress", "Acknowledged.")
    case_page = app_client.get(f"/staff/cases/{case_id}").text
    section = case_page.split('id="interventions-heading"')[1].split("</section>")[0]
    assert "2021-02" in section and "No intervention is recorded yet." not in section

    # The colleague saves first; the worker's form from before is refused with both shown.
    opened = browser_form(app_client.get(action).text, action)
    csrf2 = sign_in(app_client, colleague)
    theirs = app_client.post(action, data={**opened, "csrf": [csrf2], "status": ["completed"]},
                             follow_redirects=False)
    assert theirs.status_code == 303
    csrf = sign_in(app_client, worker)
    mine = app_client.post(action, data={**opened, "csrf": [csrf], "status": ["abandoned"]},
                           follow_redirects=False)
    assert mine.status_code == 409
    compared = mine.text.split("<table>")[1].split("</table>")[0]
    assert "completed" in compared and "abandoned" in compared
    assert "Acknowledged." not in compared  # only what differs
    (kept,) = app_client.get(f"/api/v1/cases/{case_id}", headers=api).json()["metadata"][
        "interventions"]
    assert kept["status"] == "completed"

    # A value outside its vocabulary is refused, naming the field; nothing is saved.
    fresh = browser_form(app_client.get(action).text, action)
    bad = app_client.post(action, data={**fresh, "csrf": [csrf], "intervention_type": ["bribe"]},
                          follow_redirects=False)
    assert bad.status_code == 422 and "Intervention" in bad.text.split('role="alert"')[1]



def test_an_intervention_recorded_by_mistake_is_removed_and_the_others_stay(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    submit_report(app_client, acts=["detention"])
    api = login_headers(app_client, worker)
    (case,) = app_client.get("/api/v1/cases", headers=api).json()["items"]
    base = f"/staff/cases/{case['id']}/interventions"
    csrf = sign_in(app_client, worker)
    for reference in ("WGAD 12/2021", "typed twice"):
        form = browser_form(app_client.get(f"{base}/new").text, base)
        form.update({"csrf": [csrf], "intervention_type": ["un_mechanism"],
                     "reference": [reference]})
        assert app_client.post(base, data=form, follow_redirects=False).status_code == 303

    def stored() -> list[str]:
        body = app_client.get(f"/api/v1/cases/{case['id']}", headers=api).json()
        return [i["private"]["reference"] for i in body["metadata"]["interventions"]]

    ids = EDIT_LINK.findall(app_client.get(base).text)
    by_ref = dict(zip(stored(), ids, strict=True))
    wrong = f"{base}/{by_ref['typed twice']}"
    page = app_client.get(wrong).text
    assert f'action="{wrong}/remove"' in page
    assert f'action="{base}/{by_ref["WGAD 12/2021"]}/remove"' not in page
    remove = {**browser_form(page, f"{wrong}/remove"), "csrf": [csrf]}
    assert app_client.post(f"{wrong}/remove", data={**remove, "version": ["1"]},
                           follow_redirects=False).status_code == 412  # a stale page
    assert sorted(stored()) == ["WGAD 12/2021", "typed twice"]
    done = app_client.post(f"{wrong}/remove", data=remove, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{base}?done=removed"
    listing = app_client.get(done.headers["location"]).text
    assert "The intervention is removed from the case." in listing
    assert stored() == ["WGAD 12/2021"] and "typed twice" not in listing
    # Gone is gone: its page and a second removal find nothing.
    assert app_client.get(wrong).status_code == 404
    kept = f"{base}/{by_ref['WGAD 12/2021']}"
    again = {**browser_form(app_client.get(kept).text, f"{kept}/remove"), "csrf": [csrf]}
    assert app_client.post(f"{wrong}/remove", data=again,
                           follow_redirects=False).status_code == 404
