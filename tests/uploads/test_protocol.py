"""tus protocol details: Tus-Resumable on every response, expiration on every answer that
names an upload, 413 before the disk, empty files, the type judged on the first bytes,
X-HTTP-Method-Override, concatenation refused, operator-listed CORS."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.cases.models import Case
from api.core.settings import Settings
from api.uploads.models import Upload
from tests.intake.conftest import Intake
from tests.intake.helpers import PNG, read_back, report, stored_state
from tests.uploads.test_tus import PATCH, TUS, _meta, create, offset, patch


def test_every_response_names_the_protocol_errors_included(intake: Intake) -> None:
    client = intake.client
    url = create(client, 10)
    answers = [
        client.options("/api/v1/uploads"),
        client.post("/api/v1/uploads", headers={"Upload-Length": "10"}),  # 412
        client.post("/api/v1/uploads", headers=TUS),  # 400, no length
        client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": str(10**15)}),  # 413
        client.head("/api/v1/uploads/nonsense", headers=TUS),  # 404
        patch(client, url, 3, b"abc"),  # 409
        client.patch(url, content=b"x", headers={**TUS, "Upload-Offset": "0"}),  # 415
        client.put(url, content=b"x", headers=TUS),  # 405, no such route
        client.head(url, headers=TUS),
        patch(client, url, 0, b"0123456789"),
        client.delete(url, headers=TUS),
    ]
    assert [r.status_code for r in answers] == [204, 412, 400, 413, 404, 409, 415, 405,
                                                200, 204, 204]
    assert all(r.headers.get("Tus-Resumable") == "1.0.0" for r in answers)
    # Only the upload routes speak tus.
    assert "Tus-Resumable" not in client.get("/healthz").headers


def test_upload_expires_on_creation_head_and_patch(intake: Intake) -> None:
    client = intake.client
    r = client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "20"})
    url = r.headers["Location"]
    told = {r.headers["Upload-Expires"], client.head(url, headers=TUS).headers["Upload-Expires"],
            patch(client, url, 0, b"a" * 10).headers["Upload-Expires"],
            patch(client, url, 10, b"b" * 10).headers["Upload-Expires"]}
    assert len(told) == 1
    with Session(intake.engine) as s:
        row = s.exec(select(Upload)).one()
    assert parsedate_to_datetime(told.pop()) == row.expires_at


def test_a_length_over_the_limit_is_413_before_the_disk_is_looked_at(
        intake_with: Callable[..., Intake]) -> None:
    # A free-space floor no disk can meet: any disk check would answer 503.
    intake = intake_with(max_file_bytes=1000, min_free_disk_bytes=2**62)
    for length in (1001, 10**15, 10**18, 9_999_999_999_999_999_999):
        r = intake.client.post("/api/v1/uploads",
                               headers={**TUS, "Upload-Length": str(length)})
        assert r.status_code == 413, (length, r.status_code)
        assert "larger than the limit" in r.json()["error"]["message"]
    r = intake.client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "10"})
    assert r.status_code == 503  # within the limit: now the disk is judged
    assert stored_state(intake.engine, intake.storage)["upload"] == 0


def test_an_empty_file_is_complete_at_creation_and_can_be_reported(intake: Intake) -> None:
    client = intake.client
    r = client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "0",
                                                "Upload-Metadata": _meta(filename="empty.txt")})
    assert r.status_code == 201 and r.headers["Upload-Offset"] == "0"
    url = r.headers["Location"]
    head = client.head(url, headers=TUS)
    assert (head.headers["Upload-Offset"], head.headers["Upload-Length"]) == ("0", "0")
    assert patch(client, url, 0, b"").status_code == 409  # nothing more to send
    r = client.post("/api/v1/submissions", json=report(uploads=[url]))
    assert r.status_code == 201, r.text
    assert r.json()["files"] == [{"name": "empty.txt", "size": 0, "type": "text/plain",
                                  "sha256": hashlib.sha256(b"").hexdigest()}]
    with Session(intake.engine) as s:
        case = s.exec(select(Case).where(col(Case.reference) == r.json()["reference"])).one()
        assert intake.recovery_text is not None
        _, files = read_back(s, intake.storage, case.id, intake.recovery_text)
    assert files[0][1] == b""


def test_an_empty_file_sent_as_creation_with_upload_is_complete_too(intake: Intake) -> None:
    r = intake.client.post("/api/v1/uploads", content=b"", headers={
        **PATCH, "Upload-Length": "0"})
    assert r.status_code == 201 and r.headers["Upload-Offset"] == "0"
    r = intake.client.post("/api/v1/submissions", json=report(uploads=[r.headers["Location"]]))
    assert r.status_code == 201 and r.json()["files"][0]["size"] == 0


async def _answer_before_the_rest(app: Any, method: str, path: str,
                                  headers: dict[str, str], first: bytes,
                                  rest: int) -> tuple[int | None, int]:
    """Send ``first``, then offer ``rest`` more chunks of 64 KiB; return the status and how
    many of those chunks the app had asked for when it answered."""
    asked = 0
    status: list[int] = []
    answered = anyio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if asked == 0:
            asked = 1
            return {"type": "http.request", "body": first, "more_body": True}
        if answered.is_set() or asked > rest:
            await anyio.sleep_forever()
        asked += 1
        return {"type": "http.request", "body": b"\x00" * 65536, "more_body": asked <= rest}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))
            answered.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5555), "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    with anyio.fail_after(30):
        await app(scope, receive, send)
    return (status[0] if status else None), asked - 1


# A program, refused whatever it is called (files are judged by what they are).
PROGRAM = b"MZ\x90\x00" + b"%" * 8000


def test_a_mismatched_type_is_refused_at_its_first_bytes(intake: Intake) -> None:
    """A program announced as a PNG, 10 MiB in one PATCH: the 415 comes once its first bytes
    are in, while the rest has not been sent, and nothing of it is kept."""
    client = intake.client
    total = len(PROGRAM) + 160 * 65536
    url = create(client, total, filename="photo.png", filetype="image/png")
    status, asked = anyio.run(_answer_before_the_rest, client.app, "PATCH", url,
                              {**PATCH, "Upload-Offset": "0", "Content-Length": str(total)},
                              PROGRAM, 160)
    assert status == 415 and asked == 0
    assert client.head(url, headers=TUS).status_code == 404  # the refused upload is gone
    state = stored_state(intake.engine, intake.storage)
    assert (state["upload"], state["file_part"], state["blobs"]) == (0, 0, 0)
    r = patch(client, url, 0, PROGRAM)
    assert r.status_code == 404


def test_a_mismatched_type_in_the_creation_is_refused_at_its_first_bytes(
        intake: Intake) -> None:
    total = len(PROGRAM) + 160 * 65536
    status, asked = anyio.run(_answer_before_the_rest, intake.client.app, "POST",
                              "/api/v1/uploads",
                              {**PATCH, "Upload-Length": str(total),
                               "Content-Length": str(total),
                               "Upload-Metadata": _meta(filename="a.png", filetype="image/png")},
                              PROGRAM, 160)
    assert status == 415 and asked == 0
    state = stored_state(intake.engine, intake.storage)
    assert (state["upload"], state["file_part"], state["blobs"]) == (0, 0, 0)


def test_the_refusal_names_what_the_content_is(intake: Intake) -> None:
    url = create(intake.client, len(PROGRAM), filename="photo.png", filetype="image/png")
    r = patch(intake.client, url, 0, PROGRAM)
    assert r.status_code == 415
    assert "application/x-msdownload" in r.json()["error"]["message"]


def test_method_override(intake: Intake) -> None:
    client = intake.client
    data = PNG + b"z" * 3000
    url = create(client, len(data), filetype="image/png")

    def post(override: str, content: bytes = b"", **headers: str) -> Any:
        return client.post(url, content=content,
                           headers={**TUS, "X-HTTP-Method-Override": override, **headers})

    r = post("PATCH", data[:2000], **{"Content-Type": "application/offset+octet-stream",
                                      "Upload-Offset": "0"})
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "2000"
    r = post("head")
    assert r.status_code == 200 and r.headers["Upload-Offset"] == "2000"
    assert r.headers["Upload-Length"] == str(len(data))
    # A method tus has no use for is not taken from the header: the POST stays a POST.
    assert post("GET").status_code == 405
    assert post("PATCH", data[2000:], **{"Content-Type": "application/offset+octet-stream",
                                         "Upload-Offset": "2000"}).status_code == 204
    assert offset(client, url) == len(data)
    assert post("DELETE").status_code == 204
    assert client.head(url, headers=TUS).status_code == 404


def test_concatenation_is_refused_at_creation(intake: Intake) -> None:
    for concat, extra in (("partial", {"Upload-Length": "10"}),
                          ("final;/api/v1/uploads/a /api/v1/uploads/b", {})):
        r = intake.client.post("/api/v1/uploads",
                               headers={**TUS, "Upload-Concat": concat, **extra})
        assert r.status_code == 501
        assert "concatenation" in r.json()["error"]["message"]
        assert r.headers["Tus-Resumable"] == "1.0.0"
    extensions = intake.client.options("/api/v1/uploads").headers["Tus-Extension"]
    assert "concatenation" not in extensions
    assert stored_state(intake.engine, intake.storage)["upload"] == 0


ORIGIN = "https://uploads.partner.example"


def test_no_cors_unless_an_operator_lists_the_origin(intake: Intake) -> None:
    client = intake.client
    url = create(client, 10)
    r = client.options(url, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PATCH"})
    assert r.status_code == 405
    r = patch(client, url, 0, b"0123456789")
    assert not any(k.lower().startswith("access-control-") for k in r.headers)
    assert "vary" not in r.headers


def test_cors_for_listed_origins_only(intake_with: Callable[..., Intake]) -> None:
    intake = intake_with(tus_cors_origins=f"{ORIGIN}/, http://127.0.0.1:9401")
    client = intake.client
    url = create(client, 10)
    pre = client.options(url, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "tus-resumable,upload-offset,content-type"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PATCH" in pre.headers["Access-Control-Allow-Methods"]
    allowed = pre.headers["Access-Control-Allow-Headers"].lower()
    assert all(h in allowed for h in ("tus-resumable", "upload-offset", "content-type",
                                      "upload-length", "upload-metadata", "upload-checksum"))
    assert "Access-Control-Allow-Credentials" not in pre.headers
    r = client.patch(url, content=b"0123456789",
                     headers={**PATCH, "Upload-Offset": "0", "Origin": ORIGIN})
    assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
    exposed = r.headers["Access-Control-Expose-Headers"]
    assert all(h in exposed for h in ("Upload-Offset", "Location", "Upload-Expires",
                                      "Tus-Resumable"))
    r = client.post("/api/v1/uploads", headers={**TUS, "Origin": ORIGIN})  # an error too
    assert r.status_code == 400 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
    # Another origin gets no grant, and its preflight is not answered.
    other = "https://elsewhere.example"
    r = client.options(url, headers={"Origin": other, "Access-Control-Request-Method": "PATCH"})
    assert r.status_code == 405 and "Access-Control-Allow-Origin" not in r.headers
    r = client.head(url, headers={**TUS, "Origin": other})
    assert "Access-Control-Allow-Origin" not in r.headers and r.headers["Vary"] == "Origin"
    # Nothing outside the tus endpoints is opened to it.
    r = client.get("/healthz", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_cors_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).tus_cors_origins == ()
    monkeypatch.setenv("DOKAZ_TUS_CORS_ORIGINS",
                       " https://Uploads.Partner.example/ ,http://127.0.0.1:9401,")
    assert Settings(data_dir=tmp_path).tus_cors_origins == (ORIGIN, "http://127.0.0.1:9401")
    for wrong in ("*", "uploads.partner.example", "https://partner.example/upload",
                  "ftp://partner.example", "https://*.partner.example"):
        monkeypatch.setenv("DOKAZ_TUS_CORS_ORIGINS", wrong)
        with pytest.raises(ValidationError, match="is not an origin"):
            Settings(data_dir=tmp_path)
