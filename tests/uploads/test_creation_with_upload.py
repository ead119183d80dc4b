"""tus creation-with-upload: a POST that carries the first bytes of its upload.

A small file is then one request and one commit: the upload row and its first part are
stored in one transaction, and nothing is stored when the bytes are refused.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import update

from api.core.models import utcnow
from api.keys.models import OrganisationKey
from tests.intake.conftest import Intake
from tests.intake.helpers import PNG, report, stored_state
from tests.uploads.test_tus import TUS, _meta, offset, patch

BYTES = {**TUS, "Content-Type": "application/offset+octet-stream"}
FILE = PNG + os.urandom(70_000)


def create_with(client: TestClient, length: int, data: bytes, *, checksum: str | None = None,
                **meta: str) -> tuple[int, dict[str, str]]:
    headers = {**BYTES, "Upload-Length": str(length), "Upload-Metadata": _meta(**meta)}
    if checksum is not None:
        headers["Upload-Checksum"] = checksum
    r = client.post("/api/v1/uploads", content=data, headers=headers)
    return r.status_code, dict(r.headers)


def test_advertised(intake: Intake) -> None:
    r = intake.client.options("/api/v1/uploads")
    assert "creation-with-upload" in r.headers["Tus-Extension"].split(",")


def test_a_whole_small_file_in_the_creation_is_attachable(each_backend: Intake) -> None:
    client = each_backend.client
    status, headers = create_with(client, len(FILE), FILE, filename="a.png",
                                  filetype="image/png")
    assert status == 201 and headers["upload-offset"] == str(len(FILE))
    url = headers["location"]
    assert offset(client, url) == len(FILE)
    counts = stored_state(each_backend.engine, each_backend.storage)
    assert (counts["upload"], counts["file_part"], counts["blobs"]) == (1, 1, 1)
    r = client.post("/api/v1/submissions", json=report(uploads=[url]))
    assert r.status_code == 201, r.text
    assert r.json()["files"] == [{"name": "a.png", "size": len(FILE), "type": "image/png",
                                  "sha256": hashlib.sha256(FILE).hexdigest()}]


def test_the_first_bytes_then_patches(intake: Intake) -> None:
    client = intake.client
    status, headers = create_with(client, len(FILE), FILE[:1000],
                                  checksum="sha256 " + base64.b64encode(
                                      hashlib.sha256(FILE[:1000]).digest()).decode())
    assert status == 201 and headers["upload-offset"] == "1000"
    url = headers["location"]
    r = patch(client, url, 1000, FILE[1000:])
    assert r.status_code == 204 and r.headers["Upload-Offset"] == str(len(FILE))
    r = client.post("/api/v1/submissions", json=report(uploads=[url]))
    assert r.status_code == 201, r.text
    assert r.json()["files"][0]["sha256"] == hashlib.sha256(FILE).hexdigest()


def test_an_empty_body_creates_at_offset_zero(intake: Intake) -> None:
    status, headers = create_with(intake.client, len(FILE), b"")
    assert status == 201 and headers["upload-offset"] == "0"
    assert offset(intake.client, headers["location"]) == 0
    assert stored_state(intake.engine, intake.storage)["file_part"] == 0


def test_refused_bytes_leave_nothing(intake_with: Callable[..., Intake]) -> None:
    intake = intake_with(max_file_bytes=100_000)
    client = intake.client
    wrong = "sha256 " + base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    assert create_with(client, len(FILE), FILE, checksum=wrong)[0] == 460
    assert create_with(client, 10, FILE)[0] == 413  # more than Upload-Length
    program = b"MZ\x90\x00" + b"x" * 5000  # refused whatever it is called
    assert create_with(client, len(program), program, filename="a.pdf",
                       filetype="application/pdf")[0] == 415
    # Bytes of another type are still refused, as before.
    r = client.post("/api/v1/uploads", content=b"abc",
                    headers={**TUS, "Upload-Length": "3", "Content-Type": "text/plain"})
    assert r.status_code == 400
    state = stored_state(intake.engine, intake.storage)
    assert (state["upload"], state["file_part"], state["blobs"]) == (0, 0, 0)


def test_the_creation_reserves_its_bytes_on_disk(intake_with: Callable[..., Intake]) -> None:
    # A floor just above what is free: a creation without bytes is refused too (its whole
    # file must fit), and one with bytes is refused before they are read.
    intake = intake_with(min_free_disk_bytes=2**62)
    status, _ = create_with(intake.client, len(FILE), FILE)
    assert status == 503
    assert stored_state(intake.engine, intake.storage)["blobs"] == 0


def test_without_an_active_recovery_key_nothing_is_kept(each_backend: Intake) -> None:
    # The key check is part of the upload's INSERT: a key that exists but was retired
    # counts as none, and the part already written to storage goes with the refusal.
    with each_backend.session() as s:
        s.execute(update(OrganisationKey).values(retired_at=utcnow()))
        s.commit()
    for data in (FILE, b""):
        status, _ = create_with(each_backend.client, len(FILE), data)
        assert status == 503
    state = stored_state(each_backend.engine, each_backend.storage)
    assert (state["upload"], state["file_part"], state["blobs"]) == (0, 0, 0)
    with each_backend.session() as s:
        s.execute(update(OrganisationKey).values(retired_at=None))
        s.commit()
    assert create_with(each_backend.client, len(FILE), FILE)[0] == 201
