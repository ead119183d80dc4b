"""The person editor and the consents over HTTP, on both engines: adding and editing a
person whose every coded field is a vocabulary choice, with the sealed parts never in the
audit trail or the logs; a colleague's save in between shown next to one's own instead of
overwritten; a person still named by an act kept; a consent recorded and revoked changing
what the referral draft page says."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.audit.models import AuditEntry
from api.auth.roles import Role
from api.core.settings import Settings
from tests.console.helpers import post, sign_in
from tests.factories import (
    StaffHandle,
    create_recovery_key_text,
    create_staff,
    login_headers,
    submit_report,
)

CANARIES = ("Canary Witnessname", "CanaryPassport4711", "CanaryHealthNote", "CanaryOtherName")


def _form(page: str) -> dict[str, Any]:
    """The editor's current values as a browser would send them: inputs, the chosen option
    of each select (lists for repeated names), checked boxes, text areas."""
    form = page.split('class="stack wide"')[1].split("</form>")[0]
    values: dict[str, Any] = {}

    def add(name: str, value: str) -> None:
        if name in values:
            old = values[name]
            values[name] = [*old, value] if isinstance(old, list) else [old, value]
        else:
            values[name] = value

    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([a-z_]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name is None or name.group(1) == "csrf":
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                add(name.group(1), value.group(1) if value else "on")
            continue
        add(name.group(1), value.group(1) if value else "")
    for name, body in re.findall(r'<select[^>]* name="([a-z_]+)"[^>]*>(.*?)</select>', form,
                                 flags=re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        add(name, chosen.group(1) if chosen else "")
    for name, text in re.findall(r'<textarea[^>]* name="([a-z_]+)"[^>]*>(.*?)</textarea>', form,
                                 flags=re.S):
        add(name, text)
    return values


def _case(client: TestClient, **report: Any) -> str:
    reference = str(submit_report(client, **report)["reference"])
    queue = client.get("/staff/queue?tab=all").text
    found = re.search(r'href="/staff/cases/([0-9a-f-]{36})">' + reference, queue)
    assert found, "the case is not in the queue"
    return found.group(1)


def _person_id(client: TestClient, case_id: str, name: str) -> str:
    """The id in the case page's "Edit this person" link of the person named ``name``."""
    found = re.search(name + r'</strong>[^\n]*/persons/([0-9a-f-]{36})"',
                      client.get(f"/staff/cases/{case_id}").text)
    assert found, f"no edit link for {name}"
    return found.group(1)


def _metadata(client: TestClient, handle: StaffHandle, case_id: str) -> dict[str, Any]:
    """The case's stored metadata, as the JSON API reads it."""
    response = client.get(f"/api/v1/cases/{case_id}", headers=login_headers(client, handle))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["metadata"]
    return body


def test_add_then_edit_a_person_with_coded_fields_and_sealed_parts_kept_out_of_audit_and_logs(
        app_client: TestClient, session: Session, settings: Settings,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    create_recovery_key_text(session)
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    csrf = sign_in(app_client, worker)
    case_id = _case(app_client, persons=[{"role": "victim", "name": "Canary Victimson"}])
    case_page = app_client.get(f"/staff/cases/{case_id}").text
    persons = case_page.split('id="persons-heading"')[1].split("</section>")[0]
    assert "as stated at intake, not confirmed" in persons
    assert f"/staff/cases/{case_id}/persons/new" in persons

    editor = app_client.get(f"/staff/cases/{case_id}/persons/new")
    assert editor.status_code == 200
    assert '<option value="human_rights_defender">' not in editor.text  # a checkbox, not this
    assert 'value="human_rights_defender"' in editor.text
    assert ">MVD list of persons involved in extremist activity<" in editor.text
    fields = _form(editor.text)
    saved = post(app_client, f"/staff/cases/{case_id}/persons", csrf, **{
        **fields, "role": "witness", "sex": "female", "age_band": "age_30_39",
        "citizenship": "by", "residence_country": "lt",
        "characteristics": ["human_rights_defender", "press_media"],
        "recognised_by": "viasna", "recognised_month": "2021-05",
        "list_type": ["extremist_persons", ""], "list_month": ["2022-03", ""],
        "name": CANARIES[0], "id_number": CANARIES[1], "health": CANARIES[2],
        "other_names": f"{CANARIES[3]}\nCanary Second", "birth_date": "1990-04"})
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"/staff/cases/{case_id}?done=person_saved"
    assert "The person is saved." in app_client.get(saved.headers["location"]).text

    stored = {p["role"]: p for p in _metadata(app_client, worker, case_id)["persons"]}
    witness = stored["witness"]
    assert (witness["sex"], witness["age_band"]) == ("female", "age_30_39")
    assert (witness["citizenship"], witness["residence_country"]) == ("BY", "LT")
    assert sorted(witness["characteristics"]) == ["human_rights_defender", "press_media"]
    assert witness["political_prisoner"] == {"recognised_by": "viasna", "month": "2021-05"}
    assert witness["designations"] == [{"list_type": "extremist_persons", "month": "2022-03"}]
    assert witness["private"]["name"] == CANARIES[0]
    assert witness["private"]["other_names"] == [CANARIES[3], "Canary Second"]
    assert witness["private"]["birth_date"] == "1990-04"
    assert witness["provenance"]["source"] == "staff"
    assert stored["victim"]["provenance"]["source"] == "intake"  # untouched, still intake

    # Editing it: the form comes pre-filled with what is stored; a change is saved and
    # what the form does not change is kept.
    editor = app_client.get(f"/staff/cases/{case_id}/persons/{witness['id']}")
    fields = _form(editor.text)
    assert (fields["sex"], fields["citizenship"], fields["recognised_by"]) == (
        "female", "by", "viasna")
    assert fields["name"] == CANARIES[0] and fields["list_type"][0] == "extremist_persons"
    edited = post(app_client, f"/staff/cases/{case_id}/persons/{witness['id']}", csrf,
                  **{**fields, "sex": "male", "age_band": "age_40_49"})
    assert edited.status_code == 303, edited.text
    again = {p["role"]: p for p in _metadata(app_client, worker, case_id)["persons"]}["witness"]
    assert (again["sex"], again["age_band"], again["id"]) == ("male", "age_40_49", witness["id"])
    assert again["private"]["health"] == CANARIES[2]
    assert again["designations"] == witness["designations"]
    assert sorted(again["characteristics"]) == ["human_rights_defender", "press_media"]

    # A value outside its vocabulary is refused naming the field; nothing is saved.
    bad = post(app_client, f"/staff/cases/{case_id}/persons/{witness['id']}", csrf,
               **{**_form(app_client.get(f"/staff/cases/{case_id}/persons/{witness['id']}"
                                         ).text), "age_band": "ancient"})
    assert bad.status_code == 422 and "Please check these fields" in bad.text
    assert ">Age<" in bad.text.split('role="alert"')[1].split("</div>")[0]

    # The service's own refusal is shown on the form too: a kind of force is only for an
    # alleged perpetrator. Nothing is saved.
    refused = post(app_client, f"/staff/cases/{case_id}/persons/{witness['id']}", csrf,
                   **{**_form(app_client.get(f"/staff/cases/{case_id}/persons/{witness['id']}"
                                             ).text), "perpetrator_type": "omon"})
    assert refused.status_code == 422
    assert "Kind of force" in refused.text.split('role="alert"')[1].split("</div>")[0]
    assert 'value="omon" selected' in refused.text  # what was sent, to correct
    assert {p["role"]: p for p in _metadata(app_client, worker, case_id)["persons"]
            }["witness"]["perpetrator_type"] is None

    # What the audit trail and the logs hold: ids and codes, never the sealed parts.
    session.expire_all()
    entries = session.exec(select(AuditEntry)).all()
    assert any(e.case_id == uuid.UUID(case_id)
               and json.loads(e.details).get("change") == "metadata" for e in entries)
    trail = json.dumps([e.model_dump(mode="json") for e in entries])
    logs = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str)
                     for r in caplog.records)
    for canary in CANARIES:
        assert canary not in trail
        assert canary not in logs


def test_a_colleagues_save_in_between_is_shown_next_to_mine_and_kept(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    colleague = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    csrf = sign_in(app_client, worker)
    case_id = _case(app_client, persons=[{"role": "victim", "name": "Canary Victimson"}])
    person_id = _person_id(app_client, case_id, "Canary Victimson")
    editor = app_client.get(f"/staff/cases/{case_id}/persons/{person_id}").text
    assert "As the submitter stated it at intake" in editor
    stale = _form(editor)
    assert stale["name"] == "Canary Victimson"

    csrf2 = sign_in(app_client, colleague)
    theirs = post(app_client, f"/staff/cases/{case_id}/persons/{person_id}", csrf2,
                  **{**stale, "sex": "female", "name": "Canary Corrected"})
    assert theirs.status_code == 303
    csrf = sign_in(app_client, worker)  # (one test client: the worker signs in again)
    mine = post(app_client, f"/staff/cases/{case_id}/persons/{person_id}", csrf,
                **{**stale, "sex": "male", "name": "Canary Mine"})
    assert mine.status_code == 409
    compared = mine.text.split('role="alert"')[1].split("</table>")[0]
    assert "Female" in compared and "Male" in compared
    assert "Canary Corrected" in compared and "Canary Mine" in compared
    assert 'value="Canary Mine"' in mine.text  # mine is in the form, to save again

    now = _form(app_client.get(f"/staff/cases/{case_id}/persons/{person_id}").text)
    assert (now["sex"], now["name"]) == ("female", "Canary Corrected")  # theirs stands
    stored = _metadata(app_client, worker, case_id)["persons"]
    victim = next(p for p in stored if p["id"] == person_id)
    assert (victim["sex"], victim["private"]["name"]) == ("female", "Canary Corrected")


def test_a_person_named_by_an_act_is_kept_and_one_named_by_nothing_is_removed(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    csrf = sign_in(app_client, worker)
    case_id = _case(app_client, persons=[{"role": "victim", "name": "Canary Victimson"}])
    victim_id = _person_id(app_client, case_id, "Canary Victimson")
    page = app_client.get(f"/staff/cases/{case_id}/persons/{victim_id}").text
    version = _form(page)["version"]
    kept = post(app_client, f"/staff/cases/{case_id}/persons/{victim_id}/remove", csrf,
                version=version)
    assert kept.status_code == 409
    assert "still referred to by" in kept.text  # an act and a consent name the victim
    assert len(_metadata(app_client, worker, case_id)["persons"]) == 2  # victim, reporter

    new = _form(app_client.get(f"/staff/cases/{case_id}/persons/new").text)
    assert post(app_client, f"/staff/cases/{case_id}/persons", csrf,
                **{**new, "role": "source", "name": "Canary Source"}).status_code == 303
    source = next(p for p in _metadata(app_client, worker, case_id)["persons"]
                  if p["role"] == "source")
    page = app_client.get(f"/staff/cases/{case_id}/persons/{source['id']}").text
    gone = post(app_client, f"/staff/cases/{case_id}/persons/{source['id']}/remove", csrf,
                version=_form(page)["version"])
    assert gone.status_code == 303
    assert sorted(p["role"] for p in _metadata(app_client, worker, case_id)["persons"]) == [
        "relative", "victim"]
    assert "The person is removed from the case." in app_client.get(
        gone.headers["location"]).text


def test_recording_and_revoking_a_consent_changes_what_the_draft_page_says(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    csrf = sign_in(app_client, worker)
    case_id = _case(app_client, reporter={"role": "relative"}, acts=["disappearance"],
                    when={"start": "2025-03", "ongoing": True},
                    persons=[{"role": "victim", "name": "Canary Missingson"}],
                    consent={"internal_handling": True})
    draft = f"/staff/cases/{case_id}/referral-drafts/wgeid"
    refused = app_client.get(draft)
    assert refused.status_code == 409 and "share_un_wgeid" in refused.text
    page = app_client.get(f"/staff/cases/{case_id}").text
    consents = page.split('id="consents-heading"')[1].split("</section>")[0]
    assert "in the report, not confirmed" in consents  # the report's own consent
    assert "a WGEID referral draft: still needs" in consents
    victim_id = re.search(r'<option value="([0-9a-f-]{36})">Canary Missingson',
                          consents).group(1)  # type: ignore[union-attr]

    for scope in ("share_un_wgeid", "un_name_to_government"):
        given = post(app_client, f"/staff/cases/{case_id}/consents", csrf,
                     person_id=victim_id, scope=scope, note="Said on the phone")
        assert given.status_code == 303, given.text
    page = app_client.get(given.headers["location"]).text
    assert "The consent is recorded." in page
    consents = page.split('id="consents-heading"')[1].split("</section>")[0]
    assert "a WGEID referral draft: <strong>unlocked</strong>" in consents
    assert f"recorded by {worker.user.username}" in consents
    opened = app_client.get(draft)
    assert opened.status_code == 200 and "Canary Missingson" in opened.text

    row = next(r for r in consents.split("<tr")
               if "Naming the person to the government" in r and "/revoke" in r)
    action = re.search(r'action="([^"]+/revoke)"', row).group(1)  # type: ignore[union-attr]
    revoked = post(app_client, action, csrf)
    assert revoked.status_code == 303
    page = app_client.get(revoked.headers["location"]).text
    assert "The consent is revoked." in page and "revoked on" in page
    again = app_client.get(draft)
    assert again.status_code == 409 and "un_name_to_government" in again.text
    # Revoking again is refused by the service, never a second stamp.
    assert post(app_client, action, csrf).status_code == 409


def test_lawyers_and_admins_cannot_edit_persons_or_consents(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    sign_in(app_client, worker)
    case_id = _case(app_client, persons=[{"role": "victim", "name": "Canary Victimson"}])
    for role in (Role.LAWYER, Role.ADMIN):
        other = create_staff(session, role, settings=settings)
        csrf = sign_in(app_client, other)
        assert app_client.get(f"/staff/cases/{case_id}/persons/new").status_code == 403
        refused = post(app_client, f"/staff/cases/{case_id}/consents", csrf,
                       person_id=case_id, scope="share_un_wgeid")
        assert refused.status_code == 403
        assert "cannot open this page" in refused.text


def test_relationships_between_persons_saved_refused_and_not_overwritten(
        app_client: TestClient, session: Session, settings: Settings) -> None:
    create_recovery_key_text(session)
    worker = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    colleague = create_staff(session, Role.CASEWORKER, on_intake_duty=True, settings=settings)
    csrf = sign_in(app_client, worker)
    case_id = _case(app_client, persons=[{"role": "victim", "name": "Canary Victimson"}])
    assert f"/staff/cases/{case_id}/relationships" in app_client.get(
        f"/staff/cases/{case_id}").text
    stored = {p["role"]: p["id"] for p in _metadata(app_client, worker, case_id)["persons"]}
    page = f"/staff/cases/{case_id}/relationships"
    fields = _form(app_client.get(page).text)
    assert fields["rel_person"] == ["", "", ""]  # three blank rows, nothing stored yet

    def rows(*sentences: tuple[str, str, str]) -> dict[str, Any]:
        blank = [("", "", "")] * (3 - len(sentences))
        return {"rel_id": [""] * 3, "rel_person": [s[0] for s in [*sentences, *blank]],
                "rel_type": [s[1] for s in [*sentences, *blank]],
                "rel_related": [s[2] for s in [*sentences, *blank]]}

    parent = (stored["relative"], "parent_of", stored["victim"])
    saved = post(app_client, page, csrf, version=fields["version"], **rows(parent))
    assert saved.status_code == 303, saved.text
    assert "The relationships are saved." in app_client.get(saved.headers["location"]).text
    [rel] = _metadata(app_client, worker, case_id)["relationships"]
    assert (rel["person_id"], rel["relationship_type"], rel["related_person_id"]) == parent
    fields = _form(app_client.get(page).text)
    assert fields["rel_type"][0] == "parent_of" and fields["rel_id"][0] == rel["id"]

    # The service refuses someone related to themselves; the rows come back to correct.
    itself = post(app_client, page, csrf, version=fields["version"],
                  **rows((stored["victim"], "sibling", stored["victim"])))
    assert itself.status_code == 422 and "two different persons" in itself.text
    assert 'value="sibling" selected' in itself.text
    # A row without its other person is refused by the document, naming what is missing.
    half = post(app_client, page, csrf, version=fields["version"],
                **rows((stored["victim"], "sibling", "")))
    assert half.status_code == 422 and "needs a person" in half.text

    # A colleague's save in between: both shown, theirs kept.
    csrf2 = sign_in(app_client, colleague)
    assert post(app_client, page, csrf2, **{**fields, "rel_type": ["child_of", "", ""]}
                ).status_code == 303
    csrf = sign_in(app_client, worker)
    mine = post(app_client, page, csrf, **{**fields, "rel_type": ["spouse_of", "", ""]})
    assert mine.status_code == 409
    compared = mine.text.split('role="alert"')[1].split("</table>")[0]
    assert "Child of" in compared and "Spouse of" in compared
    [rel] = _metadata(app_client, worker, case_id)["relationships"]
    assert rel["relationship_type"] == "child_of"
