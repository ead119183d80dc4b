"""The rest of an act in the editor, over HTTP on both engines: its alleged perpetrators
as repeated rows (added, kept, removed), its witnesses, a disappearance and the detention
and torture fields beyond the first ones, each stored as exactly the codes chosen."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.auth.roles import Role
from api.core.settings import Settings
from tests.console.forms import browser_form
from tests.console.helpers import sign_in
from tests.factories import create_recovery_key_text, create_staff, login_headers, submit_report

ACT_LINK = re.compile(r'href="/staff/cases/([0-9a-f-]{36})/acts/([0-9a-f-]{36})"')


def _stored_act(client: TestClient, headers: dict[str, str], case_id: str) -> dict[str, Any]:
    body = client.get(f"/api/v1/cases/{case_id}", headers=headers).json()
    (act,) = body["metadata"]["acts"]
    return dict(act)


def test_an_act_with_perpetrators_witnesses_a_disappearance_and_every_detail(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    submit_report(app_client, acts=["detention"], narrative="Taken at night, not seen since.")
    api = login_headers(app_client, worker)
    (case,) = app_client.get("/api/v1/cases", headers=api).json()["items"]
    case_id = case["id"]
    # Two more persons of the case (the persons editor is another page): a witness and
    # an alleged perpetrator an involvement can name.
    detail = app_client.get(f"/api/v1/cases/{case_id}", headers=api)
    persons = detail.json()["metadata"]["persons"]
    added = app_client.patch(f"/api/v1/cases/{case_id}", headers={
        **api, "If-Match": detail.headers["ETag"]}, json={"persons": [
            *persons, {"role": "witness", "private": {"name": "Neighbour"}},
            {"role": "perpetrator", "perpetrator_type": "omon",
             "private": {"name": "Officer K."}}]})
    assert added.status_code == 200, added.text
    persons = app_client.get(f"/api/v1/cases/{case_id}", headers=api).json()["metadata"][
        "persons"]
    witness = next(p["id"] for p in persons if p["role"] == "witness")
    officer = next(p["id"] for p in persons if p["role"] == "perpetrator")

    csrf = sign_in(app_client, worker)
    case_page = app_client.get(f"/staff/cases/{case_id}").text
    _, act_id = ACT_LINK.search(case_page).groups()  # type: ignore[union-attr]
    action = f"/staff/cases/{case_id}/acts/{act_id}"
    editor = app_client.get(action).text
    assert "Add a perpetrator" in editor and "Officer K." in editor and "Neighbour" in editor
    form = browser_form(editor, action)
    form.update({
        "csrf": [csrf], "has_detention": ["on"], "has_torture": ["on"],
        "has_disappearance": ["on"], "witness_ids": [witness],
        # detention
        "court_type": ["district_court"], "fine_band": ["bu_11_30"], "warrant_shown": ["no"],
        "verdict_month": ["2021-03"], "trial_closed": ["yes"], "trial_video_link": ["no"],
        "special_proceedings": [""], "legal_basis": ["cc_342", "cc_130"],
        "wgad_categories": ["category_ii", "category_iii"],
        # torture
        "methods": ["beating", "forced_postures"],
        "method-beating-duration": ["hours"], "method-beating-frequency": ["several_times"],
        "method-forced_postures-duration": ["days"],
        # a detail of a method not chosen is not a thing said
        "method-extreme_temperature-duration": ["minutes"],
        "medical_examination": ["yes"], "psych_evaluation": ["no"],
        "ip_consistency": ["highly_consistent"], "examiner_qualification": ["physician"],
        "body_areas": ["head", "chest"], "positions": ["face_to_wall"],
        "objects": ["baton"], "psych_sequelae": ["nightmares"],
        # disappearance
        "last_seen_month": ["2020-08"], "last_seen_date": ["2020-08-10"],
        "disappearance-region": ["BY-MI"], "last_seen_place": ["Okrestina gate"],
        "disappearance-forces_responsible": ["omon"],
        "disappearance-state_acknowledgement": ["capture_denied"],
        "disappearance-current_status": ["still_missing"],
        "circumstances": ["Put into a van without plates."],
        # the empty perpetrator row, filled in
        "perpetrators-0-perpetrator_type": ["omon"], "perpetrators-0-degree": ["direct"],
        "perpetrators-0-person_id": [officer],
        "perpetrators-0-names": ["K.\r\nthe tall one\r\n"], "perpetrators-0-unit": ["3rd company"],
        "perpetrators-0-badge_numbers": ["1234"], "perpetrators-0-description": ["In a mask."],
    })
    saved = app_client.post(action, data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text.split("<main")[1][:2000]

    act = _stored_act(app_client, api, case_id)
    det, tor, dis = act["detention"], act["torture"], act["disappearance"]
    assert act["witness_ids"] == [witness]
    assert {k: det[k] for k in ("court_type", "fine_band", "warrant_shown", "verdict_month",
                                "trial_closed", "trial_video_link", "special_proceedings")} == {
        "court_type": "district_court", "fine_band": "bu_11_30", "warrant_shown": False,
        "verdict_month": "2021-03", "trial_closed": True, "trial_video_link": False,
        "special_proceedings": None}
    assert sorted(det["legal_basis"]) == ["cc_130", "cc_342"]
    assert sorted(det["wgad_categories"]) == ["category_ii", "category_iii"]
    assert sorted(tor["methods"]) == ["beating", "forced_postures"]
    assert sorted((d["method"], d["duration"], d["frequency"]) for d in tor["method_details"]
                  ) == [("beating", "hours", "several_times"), ("forced_postures", "days", None)]
    assert (tor["medical_examination"], tor["psych_evaluation"], tor["ip_consistency"],
            tor["examiner_qualification"]) == (True, False, "highly_consistent", "physician")
    assert sorted(tor["body_areas"]) == ["chest", "head"]
    assert (tor["positions"], tor["objects"], tor["psych_sequelae"]) == (
        ["face_to_wall"], ["baton"], ["nightmares"])
    assert {k: dis[k] for k in ("last_seen_month", "region", "forces_responsible",
                                "state_acknowledgement", "current_status")} == {
        "last_seen_month": "2020-08", "region": "BY-MI", "forces_responsible": "omon",
        "state_acknowledgement": "capture_denied", "current_status": "still_missing"}
    assert dis["private"]["last_seen_date"] == "2020-08-10"
    assert dis["private"]["last_seen_place"] == "Okrestina gate"
    assert dis["private"]["circumstances"] == "Put into a van without plates."
    (inv,) = act["perpetrators"]
    assert (inv["perpetrator_type"], inv["degree"], inv["person_id"]) == ("omon", "direct",
                                                                          officer)
    assert inv["private"] == {"names": ["K.", "the tall one"], "unit": "3rd company",
                              "badge_numbers": ["1234"], "description": "In a mask."}
    first_id = inv["id"]

    # The editor shows what is stored: a second save as it stands changes nothing.
    editor = app_client.get(action).text
    assert "Perpetrator 1" in editor and "Urgent for the UN Working Group" not in editor
    again = browser_form(editor, action)
    assert again["perpetrators-0-id"] == [first_id]
    assert again["method-beating-duration"] == ["hours"]
    assert again["witness_ids"] == [witness]
    assert again["trial_video_link"] == ["no"] and again["special_proceedings"] == [""]
    again["csrf"] = [csrf]
    # ... but a second perpetrator in the empty row, and the first one removed.
    again.update({"perpetrators-1-perpetrator_type": ["police"],
                  "perpetrators-1-degree": ["ordered"],
                  "perpetrators-0-remove": ["on"]})
    assert app_client.post(action, data=again, follow_redirects=False).status_code == 303
    after = _stored_act(app_client, api, case_id)
    (inv,) = after["perpetrators"]
    assert (inv["perpetrator_type"], inv["degree"], inv["person_id"]) == ("police", "ordered",
                                                                          None)
    assert inv["id"] != first_id
    assert {k: v for k, v in after.items() if k not in ("perpetrators", "provenance")} == {
        k: v for k, v in act.items() if k not in ("perpetrators", "provenance")}
    acts = app_client.get(f"/staff/cases/{case_id}").text.split('id="acts-heading"')[1]
    assert "enforced disappearance" in acts.split("</section>")[0]
    assert "alleged perpetrators: 1" in acts.split("</section>")[0]

    # Saved again as it stands, the perpetrator keeps its id.
    same = browser_form(app_client.get(action).text, action)
    same["csrf"] = [csrf]
    assert app_client.post(action, data=same, follow_redirects=False).status_code == 303
    assert _stored_act(app_client, api, case_id)["perpetrators"] == after["perpetrators"]

    # Unticking the sections removes them; a perpetrator row's id from elsewhere is not
    # taken (a form never picks the id of a row that is not the act's).
    last = browser_form(app_client.get(action).text, action)
    last.update({"csrf": [csrf], "perpetrators-0-id": [first_id]})
    for name in ("has_detention", "has_torture", "has_disappearance"):
        last.pop(name)
    assert app_client.post(action, data=last, follow_redirects=False).status_code == 303
    final = _stored_act(app_client, api, case_id)
    assert (final["detention"], final["torture"], final["disappearance"]) == (None, None, None)
    assert final["perpetrators"][0]["id"] not in (first_id, inv["id"])


def test_a_recent_disappearance_is_urgent_and_a_colleagues_save_is_kept(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    colleague = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    submit_report(app_client, acts=["detention"])
    api = login_headers(app_client, worker)
    (case,) = app_client.get("/api/v1/cases", headers=api).json()["items"]
    case_id = case["id"]
    received = date.fromisoformat(case["received_on"])
    csrf = sign_in(app_client, worker)
    _, act_id = ACT_LINK.search(  # type: ignore[union-attr]
        app_client.get(f"/staff/cases/{case_id}").text).groups()
    action = f"/staff/cases/{case_id}/acts/{act_id}"

    # Last seen ten days before the report, still missing: urgent for the WGEID (computed
    # when stored, never sent by the form).
    form = browser_form(app_client.get(action).text, action)
    form.update({"csrf": [csrf], "has_disappearance": ["on"],
                 "last_seen_date": [(received - timedelta(days=10)).isoformat()],
                 "disappearance-current_status": ["still_missing"],
                 "wgeid_urgent": ["false"]})
    assert app_client.post(action, data=form, follow_redirects=False).status_code == 303
    assert _stored_act(app_client, api, case_id)["disappearance"]["wgeid_urgent"] is True
    assert "Urgent for the UN Working Group" in app_client.get(action).text

    # Both open the act; the colleague saves a court and a perpetrator first.
    opened = browser_form(app_client.get(action).text, action)
    csrf2 = sign_in(app_client, colleague)
    theirs = app_client.post(action, data={
        **opened, "csrf": [csrf2], "has_detention": ["on"], "court_type": ["military_court"],
        "perpetrators-0-perpetrator_type": ["omon"]}, follow_redirects=False)
    assert theirs.status_code == 303
    csrf = sign_in(app_client, worker)
    mine = app_client.post(action, data={
        **opened, "csrf": [csrf], "has_detention": ["on"], "court_type": ["district_court"],
        "perpetrators-0-perpetrator_type": ["police"]}, follow_redirects=False)
    assert mine.status_code == 409
    compared = mine.text.split("<table>")[1].split("</table>")[0]
    assert "military_court" in compared and "district_court" in compared
    assert "omon" in compared and "police" in compared
    assert "Court" in compared and "Kind of perpetrator" in compared
    kept = _stored_act(app_client, api, case_id)
    assert kept["detention"]["court_type"] == "military_court"
    assert [p["perpetrator_type"] for p in kept["perpetrators"]] == ["omon"]
    # The page sent back keeps what the worker wrote, to merge and send again.
    again = browser_form(mine.text, action)
    assert again["court_type"] == ["district_court"]
    assert again["perpetrators-0-perpetrator_type"] == ["police"]


def test_the_chain_of_events_the_trial_remedies_evidence_and_steps_taken(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    """The repeated sealed rows of an act (appeals, remedies, files as evidence, steps
    taken) are added, kept as stored on a save that leaves them, and removed; partial
    dates survive a save; a refused row names its field and stores nothing."""
    from tests.cases.factory import jpeg_with_gps, make_case

    create_recovery_key_text(session)
    worker = create_staff(session, Role.CASEWORKER, settings=settings)
    made = make_case(session, settings, wrap_to=[worker],
                     files=[("bruise.jpg", "image/jpeg", jpeg_with_gps())])
    api = login_headers(app_client, worker)
    case_id = str(made.id)
    detail = app_client.get(f"/api/v1/cases/{case_id}", headers=api)
    photo = detail.json()["attachments"][0]["id"]
    victim = "00000000-0000-0000-0000-000000000065"
    patched = app_client.patch(f"/api/v1/cases/{case_id}", headers={
        **api, "If-Match": detail.headers["ETag"]}, json={
            "persons": [{"id": victim, "role": "victim", "private": {"name": "A."}}],
            "acts": [{"victim_id": victim, "act_type": "detention", "start_month": "2020-08",
                      "detention": {"private": {"trial": {"court": "Old court"}}}},
                     {"victim_id": victim, "act_type": "torture",
                      "private": {"start_date": "2020-08"}}]})
    assert patched.status_code == 200, patched.text
    acts = app_client.get(f"/api/v1/cases/{case_id}", headers=api).json()["metadata"]["acts"]
    detention_id, torture_id = (next(a["id"] for a in acts if a["act_type"] == kind)
                                for kind in ("detention", "torture"))

    csrf = sign_in(app_client, worker)
    action = f"/staff/cases/{case_id}/acts/{torture_id}"
    editor = app_client.get(action).text
    assert "Chain of events" in editor and "bruise.jpg" in editor
    assert f'<option value="{torture_id}"' not in editor.split('id="f-preceding_act_id"')[1][:2000]
    form = browser_form(editor, action)
    assert form["start_date"] == ["2020-08"]  # a month, not a day: shown as it is
    form.update({
        "csrf": [csrf], "preceding_act_id": [detention_id], "chain_link": ["consequence_of"],
        "has_torture": ["on"], "has_detention": ["on"], "has_disappearance": ["on"],
        "trial-court": ["Frunzensky district court"], "trial-judge": ["Judge N."],
        "trial-opened_on": ["2021-02"], "trial-charges": ["Art. 342"],
        "appeals-0-court": ["Minsk city court"], "appeals-0-date": ["2021-05-04"],
        "appeals-0-outcome": ["Dismissed."],
        "remedies-0-remedy": ["Complaint to the prosecutor"], "remedies-0-date": ["2021"],
        "evidence-0-attachment_id": [photo], "evidence-0-body_area": ["back"],
        "evidence-0-note": ["Bruises three days after."],
        "steps-0-type": ["Inquiry at the detention centre"], "steps-0-date": ["2020-08-11"],
        "steps-0-addressed_to": ["Okrestina"], "steps-0-outcome": ["Denied holding him."],
    })
    saved = app_client.post(action, data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text.split("<main")[1][:2000]

    def act() -> dict[str, Any]:
        body = app_client.get(f"/api/v1/cases/{case_id}", headers=api).json()
        return dict(next(a for a in body["metadata"]["acts"] if a["id"] == torture_id))

    stored = act()
    assert (stored["preceding_act_id"], stored["chain_link"]) == (detention_id,
                                                                 "consequence_of")
    assert stored["private"]["start_date"] == "2020-08"
    trial = stored["detention"]["private"]["trial"]
    assert (trial["court"], trial["judge"], trial["opened_on"], trial["charges"]) == (
        "Frunzensky district court", "Judge N.", "2021-02", "Art. 342")
    assert trial["appeals"] == [{"court": "Minsk city court", "date": "2021-05-04",
                                 "outcome": "Dismissed."}]
    assert stored["detention"]["private"]["remedies"] == [
        {"remedy": "Complaint to the prosecutor", "date": "2021", "outcome": None}]
    assert stored["torture"]["evidence"] == [
        {"attachment_id": photo, "body_area": "back",
         "private": {"note": "Bruises three days after."}}]
    (step,) = stored["disappearance"]["private"]["steps_taken"]
    assert (step["type"], step["date"], step["addressed_to"], step["outcome"]) == (
        "Inquiry at the detention centre", "2020-08-11", "Okrestina", "Denied holding him.")

    # Saved again as the editor shows it: nothing changes; then a row is removed.
    editor = app_client.get(action).text
    again = {**browser_form(editor, action), "csrf": [csrf]}
    assert again["appeals-0-court"] == ["Minsk city court"] and "appeals-1-court" in again
    assert app_client.post(action, data=again, follow_redirects=False).status_code == 303
    assert act() == stored
    again = {**browser_form(app_client.get(action).text, action), "csrf": [csrf],
             "remedies-0-remove": ["on"]}
    assert app_client.post(action, data=again, follow_redirects=False).status_code == 303
    assert act()["detention"]["private"]["remedies"] == []
    assert act()["torture"]["evidence"] == stored["torture"]["evidence"]
    # A form that lists no files (someone granted one thread sees none of the others')
    # keeps the evidence as stored.
    without = {k: v for k, v in browser_form(app_client.get(action).text, action).items()
               if not k.startswith("evidence-")}
    assert app_client.post(action, data={**without, "csrf": [csrf]},
                           follow_redirects=False).status_code == 303
    assert act()["torture"]["evidence"] == stored["torture"]["evidence"]

    # A remedy with a date but nothing tried, a date that is no date: refused, named.
    bad = {**browser_form(app_client.get(action).text, action), "csrf": [csrf],
           "remedies-0-date": ["2021"], "steps-1-date": ["next week"]}
    refused = app_client.post(action, data=bad, follow_redirects=False)
    assert refused.status_code == 422
    alert = refused.text.split('role="alert"')[1].split("</div>")[0]
    assert "What was tried" in alert and "Date (kept encrypted)" in alert
    assert act()["detention"]["private"]["remedies"] == []
