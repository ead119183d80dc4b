"""Every response that shows one case shows its real act types, not an empty list."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.core.models import utcnow
from api.core.settings import Settings
from tests.cases.factory import Staff, make_case
from tests.cases.metadata.test_metadata import document
from tests.factories import login_headers

BASE = "/api/v1/cases"
# The act types document() records, sorted and unique as the API lists them.
ACTS = sorted({act["act_type"] for act in document(utcnow().date())["acts"]})
assert len(ACTS) > 1


def test_edit_transition_assign_and_merge_show_the_act_types(
        app_client: TestClient, session: Session, settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw, staff.coord])
    other = make_case(session, settings, wrap_to=[staff.cw, staff.coord])
    session.commit()
    cw = login_headers(app_client, staff.cw)
    coord = login_headers(app_client, staff.coord)
    url = f"{BASE}/{made.id}"

    edited = app_client.patch(url, json=document(utcnow().date()),
                              headers={**cw, "If-Match": '"1"'})
    assert edited.status_code == 200, edited.text
    assert edited.json()["act_types"] == ACTS

    moved = app_client.post(f"{url}/transitions", json={"to": "triage"}, headers=cw)
    assert moved.status_code == 200, moved.text
    assert moved.json()["act_types"] == ACTS

    assigned = app_client.put(f"{url}/assignee", json={"assignee_id": str(staff.cw.user.id)},
                              headers=coord)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["act_types"] == ACTS
    assert assigned.json()["assignee_id"] == str(staff.cw.user.id)

    merged = app_client.post(f"{url}/merge", json={"from_case_id": str(other.id)},
                             headers=coord)
    assert merged.status_code == 200, merged.text
    assert merged.json()["act_types"] == ACTS

    # The head of the detail and the list row agree with what the changes answered.
    detail = app_client.get(url, headers=cw).json()
    assert detail["act_types"] == ACTS
    listed = app_client.get(BASE, headers=cw).json()["items"]
    assert [i["act_types"] for i in listed if i["id"] == str(made.id)] == [ACTS]


def test_an_edit_that_removes_every_act_answers_with_none(
        app_client: TestClient, session: Session, settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw])
    session.commit()
    cw = login_headers(app_client, staff.cw)
    url = f"{BASE}/{made.id}"
    full = app_client.patch(url, json=document(utcnow().date()),
                            headers={**cw, "If-Match": '"1"'})
    assert full.json()["act_types"] == ACTS
    emptied = app_client.patch(url, json={"acts": []}, headers={**cw, "If-Match": '"2"'})
    assert emptied.status_code == 200, emptied.text
    assert emptied.json()["act_types"] == []
