"""Threat model property 1: a seized server reveals no content (and, property 13, no
exact file sizes: every blob is padded to its Padmé bucket).

Canary strings go into every free-text field, every name and contact field, a filename,
file bytes (multipart and tus), a follow-up message and a follow-up addition. Then
everything an adversary could copy is searched - the SQLite file with its WAL and shared
memory (or a ``pg_dump`` of the PostgreSQL database), the whole data directory including
blobs, and with the S3 backend every object in the bucket, plus the server's log output -
for each canary raw and as base64 (all three alignments), hex (both cases) and UTF-16
(both byte orders). Nothing may be found.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import secrets
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from api.ingress.files import RECORD_SIZE
from crypto.stream import ciphertext_size
from tests.conftest import DbUnderTest
from tests.intake.conftest import Intake, each_backend, intake_with
from tests.intake.helpers import PNG, form, upload_integer_values
from tests.storage.moto_server import moto_s3

__all__ = ["each_backend", "intake_with", "moto_s3"]


def _canary(label: str) -> str:
    return f"Canary{label}{secrets.token_hex(6)}"


def encodings(canary: str) -> dict[str, bytes]:
    raw = canary.encode()
    out = {"raw": raw, "hex": raw.hex().encode(), "HEX": raw.hex().upper().encode(),
           "utf-16-le": canary.encode("utf-16-le"), "utf-16-be": canary.encode("utf-16-be")}
    for shift in range(3):
        # base64 of the canary embedded at any offset: drop the edge characters that
        # depend on the neighbouring bytes.
        encoded = base64.b64encode(b"\x00" * shift + raw).decode().rstrip("=")
        start = (shift * 4 + 2) // 3
        out[f"base64+{shift}"] = encoded[start:-2].encode()
    return out


def _files_under(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in root.rglob("*"):
        if path.is_file():
            yield str(path), path.read_bytes()


def _bucket_objects(intake: Intake) -> Iterator[tuple[str, bytes]]:
    client = intake.storage.client  # type: ignore[attr-defined]
    bucket = intake.storage.bucket  # type: ignore[attr-defined]
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            yield f"s3://{obj['Key']}", client.get_object(Bucket=bucket, Key=obj["Key"])[
                "Body"].read()


def _database_copies(database: DbUnderTest) -> Iterator[tuple[str, bytes]]:
    if database.kind == "sqlite":
        db_file = Path(database.url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm", "-journal"):
            path = Path(str(db_file) + suffix)
            if path.exists():
                yield str(path), path.read_bytes()
        return
    url = database.url.replace("+psycopg", "")
    dump = subprocess.run(["pg_dump", "--no-owner", url], capture_output=True, check=True,
                          timeout=120)
    yield "pg_dump", dump.stdout


def test_seized_server_reveals_no_content(each_backend: Intake, database: DbUnderTest,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    c = {k: _canary(k) for k in (
        "ReporterName", "ReporterContact", "Relationship", "Details", "PersonName",
        "OtherNames", "Birth", "IdNumber", "Address", "Phone", "Email", "Description",
        "Health", "Narrative", "FileName", "FileBytes", "TusName", "TusBytes", "Message",
        "Addition", "AdditionFile")}
    doc: dict[str, Any] = {
        "reporter": {"role": "relative", "name": c["ReporterName"],
                     "contact": c["ReporterContact"], "relationship": c["Relationship"]},
        "acts": ["detention", "torture"], "when": {"start": "2025-02-14"},
        "where": {"region": "BY-MI", "facility_type": "ivs", "details": c["Details"]},
        "persons": [{"role": "victim", "name": c["PersonName"], "other_names": c["OtherNames"],
                     "date_of_birth": c["Birth"], "id_number": c["IdNumber"],
                     "address": c["Address"], "phone": c["Phone"], "email": c["Email"],
                     "description": c["Description"], "health": c["Health"]}],
        "narrative": c["Narrative"], "consent": {"internal_handling": True}, "language": "ru",
    }
    client = each_backend.client
    tus_bytes = (c["TusBytes"] + "\n").encode() * 2000
    tus = {"Tus-Resumable": "1.0.0"}
    r = client.post("/api/v1/uploads", headers={
        **tus, "Upload-Length": str(len(tus_bytes)),
        "Upload-Metadata": "filename " + base64.b64encode(c["TusName"].encode()).decode()})
    url = r.headers["Location"]
    for start in range(0, len(tus_bytes), 20_000):
        piece = tus_bytes[start:start + 20_000]
        assert client.patch(url, content=piece, headers={
            **tus, "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(start)}).status_code == 204
    doc["uploads"] = [url]
    # A second tus upload is left open mid-way: its row and segments are on the server
    # at the seizure, and must not give away the exact length of the file or any offset.
    open_bytes = (c["TusBytes"] + "|").encode() * 1733
    r = client.post("/api/v1/uploads", headers={**tus, "Upload-Length": str(len(open_bytes))})
    open_url = r.headers["Location"]
    for start, end in ((0, 11_111), (11_111, 22_223)):
        assert client.patch(open_url, content=open_bytes[start:end], headers={
            **tus, "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(start)}).status_code == 204
    file_bytes = PNG + c["FileBytes"].encode() * 100
    plain_bytes = (c["FileBytes"] + " ").encode() * 50
    body, ctype = form(doc, [(c["FileName"] + ".png", "image/png", file_bytes),
                             ("plain.txt", "text/plain", plain_bytes)])
    r = client.post("/api/v1/submissions", content=body, headers={"content-type": ctype})
    assert r.status_code == 201, r.text
    receipt = r.json()["receipt"]
    assert r.json()["files"][0]["sha256"] == hashlib.sha256(file_bytes).hexdigest()

    token = client.post("/api/v1/followup/session", json={"receipt": receipt}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/followup/messages", json={"text": c["Message"]},
                       headers=auth).status_code == 201
    addition_bytes = c["AdditionFile"].encode() * 40
    body, ctype = form({"narrative": c["Addition"]},
                       [("more.txt", "text/plain", addition_bytes)])
    assert client.post("/api/v1/followup/additions", content=body,
                       headers={**auth, "content-type": ctype}).status_code == 201

    # Everything a seizure copies: database (+WAL) or dump, data dir, bucket, logs.
    copies: list[tuple[str, bytes]] = list(_database_copies(database))
    copies += list(_files_under(each_backend.settings.data_dir))
    copies += list(_files_under(Path(database.root)))
    if each_backend.settings.storage_backend == "s3":
        copies += list(_bucket_objects(each_backend))
    copies.append(("logs", "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str)
                                     for r in caplog.records).encode()))
    assert sum(len(data) for _, data in copies) > 10_000  # we really searched something
    assert any(name.startswith(("s3://", str(each_backend.settings.data_dir)))
               for name, _ in copies)

    found = [
        (label, enc, where)
        for label, canary in c.items()
        for enc, needle in encodings(canary).items()
        for where, data in copies
        if needle in data
    ]
    assert found == [], f"protected content found on the seized server: {found}"
    # Property 13: every stored file is padded (format 2), so no blob has the exact
    # size an unpadded encryption of a known file would have (padded sizes are always
    # larger, so this cannot hold by coincidence).
    blobs = [data for _, data in copies if data[:4] == b"DKZF"]
    assert len(blobs) >= 4 and all(b[4] == 2 for b in blobs)
    exact = {ciphertext_size(len(d), RECORD_SIZE, version=1)
             for d in (file_bytes, plain_bytes, tus_bytes, addition_bytes)}
    assert not any(len(b) in exact for b in blobs)
    # No exact size of the open upload in any integer column of the upload tables.
    exact_upload = {len(open_bytes), 11_111, 22_223, 22_223 - 11_111}
    stored = upload_integer_values(each_backend.engine)
    assert stored and exact_upload.isdisjoint(stored), sorted(exact_upload & set(stored))
    # Sanity check of the search itself: the coarse plaintext coding is there.
    assert any(b"BY-MI" in data for _, data in copies)


@pytest.mark.parametrize("shift", range(3))
def test_the_search_finds_planted_canaries(tmp_path: Path, shift: int) -> None:
    canary = _canary("Planted")
    prefix = os.urandom(shift)
    planted = {
        "raw": canary.encode(), "hex": canary.encode().hex().encode(),
        "HEX": canary.encode().hex().upper().encode(),
        "utf-16-le": canary.encode("utf-16-le"), "utf-16-be": canary.encode("utf-16-be"),
        f"base64+{shift}": base64.b64encode(prefix + canary.encode() + b"tail"),
    }
    for name, data in planted.items():
        (tmp_path / name).write_bytes(b"junk" + data + b"junk")
    files = dict(_files_under(tmp_path))
    for name, needle in encodings(canary).items():
        if name in planted:
            assert needle in files[str(tmp_path / name)], name


# ---- property 13: little metadata at rest ----------------------------------------------

# Tables whose times are about staff or the system, never about a submitter; every other
# table with a time column must say below how its rows link to a submitter, so a new
# table cannot slip through unclassified.
STAFF_SIDE_TABLES = {
    "staff_user", "staff_session", "login_throttle", "organisation_key", "partner",
    "partner_api_key", "stats_release", "stats_partner_policy", "stats_budget_entry",
    "notification_subscription", "audit_checkpoint",
    # Which checkpoint of the audit chain left the server when: the system's own work.
    "audit_shipment",
    # A merge or split is a staff decision; its time dates the staff member's work.
    "case_link",
    # The organisation's own profile for referral drafts: when an admin last changed it.
    "organisation_profile",
}


def _linked_rows(table: Any, rows: list[Any], case_ids: set[str]) -> list[Any]:
    """The rows of ``table`` that are tied to a submitter."""
    name = table.name
    if name in {"cases", "upload", "file_part", "receipt", "followup_session",
                "intake_replay"}:
        return rows
    if name == "audit_log":
        # Staff reads and changes keep exact times; anything done by an anonymous
        # visitor (a submitter) is the submitter's.
        return [r for r in rows if r._mapping["actor_kind"] == "anonymous"]
    if name == "job":
        return [r for r in rows if any(c in json.dumps(r._mapping["payload"]) for c in case_ids)]
    if "case_id" in table.c:
        return rows
    raise AssertionError(f"classify table {name}: is it tied to a submitter?")


def submitter_times_finer_than_a_day(engine: Any) -> list[tuple[str, str, str]]:
    """(table.column, row id, value) of every submitter-linked time not at 00:00 UTC."""
    from sqlalchemy import DateTime
    from sqlalchemy import select as sa_select
    from sqlmodel import SQLModel

    import api.models  # noqa: F401  (every table registered)

    finer: list[tuple[str, str, str]] = []
    with engine.connect() as conn:
        cases = SQLModel.metadata.tables["cases"]
        case_ids = {str(i) for i in conn.execute(sa_select(cases.c.id)).scalars()}
        for table in SQLModel.metadata.sorted_tables:
            times = [c for c in table.c if isinstance(c.type, DateTime)
                     or isinstance(getattr(c.type, "impl", None), DateTime)]
            if not times or table.name in STAFF_SIDE_TABLES:
                continue
            rows = _linked_rows(table, list(conn.execute(sa_select(table))), case_ids)
            for row in rows:
                for column in times:
                    value = row._mapping[column.name]
                    if value is None:
                        continue
                    if isinstance(value, str):  # raw SQLite text, read without the type
                        value = datetime.fromisoformat(value)
                    if value.astimezone(UTC).timetz() != dtime(0, tzinfo=UTC):
                        finer.append((f"{table.name}.{column.name}",
                                      str(row._mapping.get("id", "?")), value.isoformat()))
    return finer


def log_times_finer_than_a_minute(records: list[logging.LogRecord]) -> list[str]:
    from api.core.logging import JsonFormatter

    formatter = JsonFormatter()
    bad = []
    for record in records:
        ts = json.loads(formatter.format(record))["ts"]
        if record.created % 60 != 0 or not ts.endswith(":00.000+00:00"):
            bad.append(f"{record.name} {ts} {record.getMessage()[:60]}")
    return bad


def test_seized_server_dates_no_submitter_finer_than_a_day(
        each_backend: Intake, database: DbUnderTest, caplog: pytest.LogCaptureFixture) -> None:
    """Property 13: after a realistic run, every plaintext time tied to a submitter, in
    every table, is at 00:00 UTC, and no log line of a public request has seconds."""
    from api.cases.models import Case
    from tests.factories import login_headers

    caplog.set_level(logging.DEBUG)
    caplog.clear()
    client = each_backend.client
    # A tus upload, then an API submission with it and a file.
    tus_bytes = b"tus file bytes\n" * 3000
    tus = {"Tus-Resumable": "1.0.0"}
    r = client.post("/api/v1/uploads", headers={
        **tus, "Upload-Length": str(len(tus_bytes)),
        "Upload-Metadata": "filename " + base64.b64encode(b"notes.txt").decode()})
    url = r.headers["Location"]
    for start in range(0, len(tus_bytes), 20_000):
        assert client.patch(url, content=tus_bytes[start:start + 20_000], headers={
            **tus, "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(start)}).status_code == 204
    doc: dict[str, Any] = {
        "reporter": {"role": "relative"}, "acts": ["detention"],
        "when": {"start": "2025-02-14"}, "where": {"region": "BY-MI"},
        "persons": [{"role": "victim", "name": "A. B."}], "narrative": "Taken at night.",
        "consent": {"internal_handling": True}, "language": "ru", "uploads": [url]}
    body, ctype = form(doc, [("photo.png", "image/png", PNG + b"x" * 100)])
    # With an Idempotency-Key: its record is a submitter's too (api/intake/replays.py).
    headers = {"content-type": ctype, "Idempotency-Key": "seized-" + "k" * 20}
    r = client.post("/api/v1/submissions", content=body, headers=headers)
    assert r.status_code == 201, r.text
    receipt, reference = r.json()["receipt"], r.json()["reference"]
    # A web form submission, without JavaScript.
    page = client.get("/report?lang=en").text
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    fields = {"csrf": match.group(1), "lang": "en", "website": "", "role": "witness",
              "categories": "detention", "narrative": "They took him at the bus stop.",
              "when_month": "3", "when_year": "2021", "region": "BY-HR"}
    r = client.post("/report", files=[*((k, (None, v)) for k, v in fields.items()),
                                      ("files", ("a.png", PNG + b"y" * 64, "image/png"))])
    assert r.status_code == 200 and "Your report has been received" in r.text
    # Follow-up: a session, a message and an addition with a file.
    token = client.post("/api/v1/followup/session", json={"receipt": receipt}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/followup/messages", json={"text": "Still held."},
                       headers=auth).status_code == 201
    body, ctype = form({"narrative": "More."}, [("more.txt", "text/plain", b"more " * 40)])
    assert client.post("/api/v1/followup/additions", content=body,
                       headers={**auth, "content-type": ctype}).status_code == 201
    # A wrong receipt locks nothing finer than a day either.
    wrong = receipt[:-1] + ("A" if receipt[-1] != "A" else "B")
    assert client.post("/api/v1/followup/session", json={"receipt": wrong}).status_code == 401
    # What the server logged: not the test's HTTP client, nor the fake S3 server.
    public_records = [r for r in caplog.records
                      if r.name.split(".")[0] not in {"httpx", "werkzeug"}]

    # Staff: read, reply and move the case along (staff-side times may stay exact).
    staff = login_headers(client, each_backend.on_duty)
    with each_backend.session() as s:
        case_id = s.exec(select(Case.id).where(col(Case.reference) == reference)).one()
    assert client.get(f"/api/v1/cases/{case_id}", headers=staff).status_code == 200
    assert client.get(f"/api/v1/cases/{case_id}/messages", headers=staff).status_code == 200
    assert client.post(f"/api/v1/cases/{case_id}/messages", json={"body": "We are on it."},
                       headers=staff).status_code == 201
    for to in ("triage", "in_review"):
        assert client.post(f"/api/v1/cases/{case_id}/transitions", json={"to": to},
                           headers=staff).status_code == 200
    msgs = client.get("/api/v1/followup/messages", headers=auth).json()
    assert [m["direction"] for m in msgs] == ["from_you", "to_you"]

    finer = submitter_times_finer_than_a_day(each_backend.engine)
    assert finer == [], f"submitter-linked times finer than a day: {finer}"
    assert public_records, "the public requests logged nothing: the log check saw nothing"
    assert any(r.name == "dokaz.access" for r in public_records)
    seconds = log_times_finer_than_a_minute(public_records)
    assert seconds == [], f"log lines of public requests with seconds: {seconds}"
