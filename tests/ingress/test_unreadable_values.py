"""Hostile JSON values: well-formed documents whose values cannot be taken get 422 naming
the field, never 500, on the public door and on the routes FastAPI parses itself. And
every 422 writes a field's path the same way (api.core.errors.field_path)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.core.settings import Settings
from tests.cases.factory import Staff, make_case, make_staff
from tests.factories import login_headers
from tests.intake.conftest import Intake
from tests.intake.helpers import report, stored_state

CANARY = "Secret-Canary-7731"
HUGE = "9" * 100_000  # far past Python's 4,300-digit limit for int()


@pytest.fixture
def staff(session: Session) -> Staff:
    return make_staff(session)


def _with(field: str, raw_value: str) -> bytes:
    """The sample report with ``field`` (a key of the first person) set to a raw JSON
    value, written as a client could send it."""
    doc = report(narrative=CANARY)
    doc["persons"][0][field] = "@@"
    return json.dumps(doc).replace('"@@"', raw_value).encode()


HOSTILE: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "integer of 100,000 digits": (lambda: _with("sex", HUGE), "persons[0].sex",
                                  "more than 4300 digits"),
    "negative integer of 100,000 digits": (lambda: _with("age_band", "-" + HUGE),
                                           "persons[0].age_band", "digits"),
    "float past the largest double": (lambda: _with("sex", "1e999"), "persons[0].sex",
                                      "too large"),
    "NaN": (lambda: _with("sex", "NaN"), "persons[0].sex", "not a JSON number"),
    "-Infinity": (lambda: _with("sex", "-Infinity"), "persons[0].sex", "not a JSON number"),
    "lone surrogate": (lambda: json.dumps(report(narrative=CANARY)).replace(
        CANARY, CANARY + "\\ud800").encode(), "narrative", "not a character"),
    "schema error deep in a list": (lambda: _with("sex", '"dancing"'), "persons[0].sex", ""),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_the_door_refuses_unreadable_values_with_422_naming_the_field(
        intake: Intake, name: str) -> None:
    make, path, phrase = HOSTILE[name]
    before = stored_state(intake.engine, intake.storage)
    r = intake.client.post("/api/v1/submissions", content=make(),
                           headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    fields = r.json()["error"]["details"]["fields"]
    assert path in [f["path"] for f in fields], fields
    assert any(phrase in f["message"] for f in fields), fields
    assert CANARY not in r.text and HUGE[:50] not in r.text
    assert stored_state(intake.engine, intake.storage) == before


def test_a_multipart_report_with_a_huge_number_is_422_too(intake: Intake) -> None:
    body = (b"--b\r\nContent-Disposition: form-data; name=\"submission\"\r\n"
            b"Content-Type: application/json\r\n\r\n" + _with("sex", HUGE) + b"\r\n--b--\r\n")
    r = intake.client.post("/api/v1/submissions", content=body,
                           headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 422, r.text
    assert [f["path"] for f in r.json()["error"]["details"]["fields"]] == ["persons[0].sex"]


def test_staff_routes_refuse_unparsable_bodies_with_422(
        app_client: TestClient, session: Session, settings: Settings, staff: Staff) -> None:
    made = make_case(session, settings, wrap_to=[staff.cw])
    session.commit()
    cw = {**login_headers(app_client, staff.cw), "content-type": "application/json",
          "If-Match": '"1"'}
    url = f"/api/v1/cases/{made.id}"
    for body in (b'{"priority": ' + HUGE.encode() + b"}",
                 b"[" * 100_000 + b"]" * 100_000,  # nesting past the recursion limit
                 b'{"priority": "\xff"}'):  # not UTF-8
        r = app_client.patch(url, content=body, headers=cw)
        assert r.status_code == 422, r.text
        fields = r.json()["error"]["details"]["fields"]
        assert [f["path"] for f in fields] == ["body"]
        assert HUGE[:50] not in r.text
    # The case is unchanged by all of it.
    assert app_client.get(url, headers=cw).headers["etag"] == '"1"'


def test_one_path_format_for_fastapi_and_service_errors(
        app_client: TestClient, session: Session, settings: Settings, staff: Staff) -> None:
    # The public door writes persons[0].sex too ("schema error deep in a list" above).
    # FastAPI's own validation of a staff body.
    made = make_case(session, settings, wrap_to=[staff.cw])
    session.commit()
    cw = {**login_headers(app_client, staff.cw), "If-Match": '"1"'}
    url = f"/api/v1/cases/{made.id}"
    fastapi = app_client.patch(url, json={"persons": [{"role": "victim", "sex": 7}]},
                               headers=cw)
    # A service's own refusal of one field (the metadata store).
    person = "00000000-0000-0000-0000-000000000001"
    service = app_client.patch(url, json={"persons": [{"id": person, "role": "victim"},
                                                      {"id": person, "role": "victim"}]},
                               headers=cw)
    # A query parameter.
    query = app_client.get("/api/v1/cases", params={"limit": "many"}, headers=cw)
    paths = {}
    for name, r in (("fastapi", fastapi), ("service", service), ("query", query)):
        assert r.status_code == 422, (name, r.text)
        paths[name] = [f["path"] for f in r.json()["error"]["details"]["fields"]]
    assert any(p.startswith("persons[0].sex") for p in paths["fastapi"]), paths
    assert paths["service"] == ["persons[1].id"]
    assert paths["query"] == ["query.limit"]
