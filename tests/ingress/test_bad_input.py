"""Every class of bad input gets a clear 4xx and leaves no trace (rows or blobs).

Through the submission door: the admission guards (rates, free disk, headers, the body
deadline, the recovery key), the multipart parser, the filename checks and the type
detection of :mod:`api.ingress`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from tests.intake.conftest import Intake
from tests.intake.helpers import PNG, asgi_interrupted, form, multipart, report, stored_state

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 5000
CANARY = "Secret-Canary-7731"
Body = tuple[bytes, str]


def _truncated(body: Body) -> Body:
    return body[0][:-200], body[1]


def _json(data: bytes) -> Body:
    return data, "application/json"


CASES: dict[str, tuple[Callable[[], Body], int, str]] = {
    "empty json body": (lambda: _json(b""), 400, "empty"),
    "empty multipart body": (lambda: (b"", "multipart/form-data; boundary=abc"), 400,
                             "ended before"),
    "multipart without parts": (lambda: (b"--abc--\r\n", "multipart/form-data; boundary=abc"),
                                400, "no 'submission' part"),
    "invalid utf-8": (lambda: _json(b'{"narrative": "\xff\xfe"}'), 400, "UTF-8"),
    "invalid json": (lambda: _json(b'{"narrative": '), 400, "not valid JSON"),
    "json not matching the schema": (
        lambda: _json(json.dumps(report(acts=["dancing"], narrative=CANARY)).encode()), 422,
        "not valid"),
    "no consent to handle": (
        lambda: _json(json.dumps(report(consent={"internal_handling": False})).encode()), 422,
        "not valid"),
    "control characters in text": (
        lambda: _json(json.dumps(report(narrative="a\x1b[31m")).encode()), 422, "not valid"),
    "date in the future": (
        lambda: _json(json.dumps(report(when={"start": "2999-01"})).encode()), 422,
        "not valid"),
    "wrong content type": (lambda: (b"narrative=x", "text/plain"), 415, "application/json"),
    "form-urlencoded": (lambda: (b"a=b", "application/x-www-form-urlencoded"), 415,
                        "multipart/form-data"),
    "missing boundary": (lambda: (b"--x\r\n", "multipart/form-data"), 400, "boundary"),
    "malformed multipart": (
        lambda: (b"--abc\r\nContent-Disposition: form-data; name=\"submission\"\r\n"
                 b"garbage-without-colon\r\n\r\n{}\r\n--abc--\r\n",
                 "multipart/form-data; boundary=abc"), 400, "malformed"),
    "truncated multipart": (
        lambda: _truncated(form(report(), [("a.png", "image/png", PNG)])), 400,
        "ended before"),
    "files before the submission part": (
        lambda: multipart([("files", "a.png", "image/png", PNG),
                           ("submission", None, None, json.dumps(report()).encode())]),
        400, "must come before"),
    "unknown form field": (
        lambda: multipart([("submission", None, None, json.dumps(report()).encode()),
                           ("evil", None, None, b"x")]), 400, "does not accept"),
    "invalid json in the submission part": (
        lambda: multipart([("submission", None, None, b"{nope")]), 400, "not valid JSON"),
    "path traversal in a filename": (
        lambda: form(report(), [("../../etc/" + CANARY, "image/png", PNG)]), 400,
        "folder separators"),
    "backslash path in a filename": (
        lambda: form(report(), [("..\\..\\" + CANARY + ".png", "image/png", PNG)]), 400,
        "folder separators"),
    "dot-dot filename": (lambda: form(report(), [("..", "image/png", PNG)]), 400,
                         "folder separators"),
    "control character in a filename": (
        lambda: form(report(), [(CANARY + "\x07.png", "image/png", PNG)]), 400,
        "control characters"),
    "right-to-left override in a filename": (
        lambda: form(report(), [("photo\u202egnp.exe", "image/png", PNG)]), 400,
        "control characters"),
    # Judged by what it is: a program named as a document is refused, naming its number.
    "a program named as a document": (
        lambda: form(report(), [("a.png", "image/png", PNG), (CANARY + ".pdf",
                                                              "application/pdf", EXE)]),
        415, "File number 2 is a program (application/x-msdownload)"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_without_trace(intake: Intake, name: str) -> None:
    make, status, phrase = CASES[name]
    before = stored_state(intake.engine, intake.storage)
    body, ctype = make()
    r = intake.client.post("/api/v1/submissions", content=body, headers={"content-type": ctype})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert phrase in error["message"] or phrase in json.dumps(error), error
    assert CANARY not in r.text and "etc/" not in r.text
    assert stored_state(intake.engine, intake.storage) == before


LIMITS: dict[str, tuple[dict[str, Any], Callable[[], Body], str]] = {
    "oversize file": ({"max_file_bytes": 4096},
                      lambda: form(report(), [("a.png", "image/png", PNG * 5)]), "per file"),
    "oversize submission": ({"max_submission_bytes": 8000},
                            lambda: form(report(), [("a.png", "image/png", PNG)] * 9),
                            "for one submission"),
    "oversize json": ({"max_json_bytes": 2048},
                      lambda: _json(json.dumps(report(narrative="x" * 5000)).encode()),
                      "for its text"),
    "oversize json part": ({"max_json_bytes": 2048},
                           lambda: form(report(narrative="x" * 5000), []), "for its text"),
    "too many files": ({"max_files_per_submission": 2},
                       lambda: form(report(), [("a.png", "image/png", PNG)] * 3),
                       "Too many files"),
}


@pytest.mark.parametrize("name", list(LIMITS))
def test_limits_give_413_and_leave_nothing(intake_with: Callable[..., Intake],
                                           name: str) -> None:
    overrides, make, phrase = LIMITS[name]
    intake = intake_with(**overrides)
    before = stored_state(intake.engine, intake.storage)
    body, ctype = make()
    # Stream it in pieces so the limit is hit while bytes arrive, not from Content-Length.
    pieces = [body[i:i + 1000] for i in range(0, len(body), 1000)]
    r = intake.client.post("/api/v1/submissions", content=iter(pieces),
                           headers={"content-type": ctype})
    assert r.status_code == 413, r.text
    assert phrase in r.json()["error"]["message"]
    if "limit of" in r.json()["error"]["message"]:
        assert " MB" in r.json()["error"]["message"]
    assert stored_state(intake.engine, intake.storage) == before


def test_declared_content_length_over_the_limit_is_refused_early(
        intake_with: Callable[..., Intake]) -> None:
    intake = intake_with(max_submission_bytes=4096)
    body, ctype = form(report(), [("a.png", "image/png", PNG * 20)])
    r = intake.client.post("/api/v1/submissions", content=body, headers={"content-type": ctype})
    assert r.status_code == 413 and "MB" in r.json()["error"]["message"]


def test_interrupted_upload_leaves_nothing(intake: Intake) -> None:
    before = stored_state(intake.engine, intake.storage)
    big = PNG + b"\x00" * (3 * 1024 * 1024)
    body, ctype = form(report(), [("a.png", "image/png", PNG), ("b.png", "image/png", big)])
    chunks = [body[i:i + 65536] for i in range(0, len(body) - 500_000, 65536)]
    status = anyio.run(asgi_interrupted, intake.client.app, "POST", "/api/v1/submissions",
                       {"content-type": ctype}, chunks)
    assert status in (None, 400)
    assert stored_state(intake.engine, intake.storage) == before


def test_no_recovery_key_means_no_intake(database: Any, engine: Any, tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    settings = database.make_settings(tmp_path / "d")
    with TestClient(create_app(settings, engine)) as client:
        r = client.post("/api/v1/submissions", json=report())
        upload = client.post("/api/v1/uploads", headers={"Tus-Resumable": "1.0.0",
                                                         "Upload-Length": "5"})
    for refused in (r, upload):
        assert refused.status_code == 503 and "recovery key" in refused.json()["error"]["message"]
        assert refused.json()["error"]["code"] == "no_recovery_key"
        assert "dokaz keys import-public" in refused.json()["error"]["message"]
    from sqlmodel import Session, select

    from api.uploads.models import Upload

    with Session(engine) as s:
        assert s.exec(select(Upload)).first() is None  # no upload was begun


def test_rate_limits_and_disk_guard(intake_with: Callable[..., Intake]) -> None:
    per_client = intake_with(intake_rate_per_client_per_hour=2)
    codes = [per_client.client.post("/api/v1/submissions", json=report()).status_code
             for _ in range(3)]
    assert codes == [201, 201, 429]
    glob = intake_with(intake_rate_global_per_minute=1)
    codes = [glob.client.post("/api/v1/submissions", json=report()).status_code
             for _ in range(2)]
    assert codes == [201, 503]
    full = intake_with(min_free_disk_bytes=1 << 60)
    r = full.client.post("/api/v1/submissions", json=report())
    assert r.status_code == 503 and "temporarily unavailable" in r.json()["error"]["message"]


def test_header_and_time_limits(intake_with: Callable[..., Intake]) -> None:
    intake = intake_with(max_header_bytes=1024, request_body_timeout_seconds=0.3)
    r = intake.client.post("/api/v1/submissions", json=report(),
                           headers={"x-padding": "p" * 2000})
    assert r.status_code == 431

    def slow() -> Any:
        import time

        body, _ = form(report(), [("a.png", "image/png", PNG)])
        yield body[:100]
        time.sleep(0.6)
        yield body[100:]

    before = stored_state(intake.engine, intake.storage)
    r = intake.client.post("/api/v1/submissions", content=slow(),
                           headers={"content-type": form(report(), [])[1]})
    assert r.status_code in (400, 408)
    assert stored_state(intake.engine, intake.storage) == before
