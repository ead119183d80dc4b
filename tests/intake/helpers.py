"""Helpers for intake tests: sample reports, hand-built multipart bodies, read-back."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

from sqlmodel import Session, col, select

from api.cases.files.models import Attachment
from api.cases.threads import contexts
from api.cases.threads.models import Submission
from api.keys.models import CaseKeyWrap
from api.keys.service import case_key_context
from api.storage.base import BlobStorage
from crypto import DataKey
from crypto.recovery import parse_recovery_key
from crypto.sealed import unwrap_data_key

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


def report(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": "dokaz.submission/1",
        "reporter": {"role": "relative", "name": "Hanna", "contact": "signal: +375 29 000"},
        "acts": ["detention", "torture"],
        "when": {"start": "2025-03", "ongoing": True},
        "where": {"region": "BY-HM", "facility_type": "tsip", "details": "Akrestsina"},
        "persons": [{"role": "victim", "name": "Ales", "sex": "male", "age_band": "age_30_39",
                     "still_detained": True}],
        "narrative": "He was taken from the street and beaten in the van.",
        "consent": {"internal_handling": True, "aggregate_statistics": True},
        "language": "be",
    }
    doc.update(overrides)
    return doc


def multipart(parts: list[tuple[str, str | None, str | None, bytes]],
              boundary: str | None = None) -> tuple[bytes, str]:
    """(body, content type) from (name, filename, content type, bytes) parts."""
    boundary = boundary or "dkzb" + secrets.token_hex(8)
    out = bytearray()
    for name, filename, ctype, data in parts:
        out += f"--{boundary}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += disp.encode() + b"\r\n"
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def form(doc: dict[str, Any], files: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    parts: list[tuple[str, str | None, str | None, bytes]] = [
        ("submission", None, "application/json", json.dumps(doc).encode())
    ]
    parts += [("files", name, ctype, data) for name, ctype, data in files]
    return multipart(parts)


def case_key_by_recovery(session: Session, case_id: uuid.UUID, recovery_text: str) -> DataKey:
    wrap = session.exec(select(CaseKeyWrap).where(
        col(CaseKeyWrap.case_id) == case_id, col(CaseKeyWrap.recipient_kind) == "recovery"
    )).one()
    return unwrap_data_key(
        parse_recovery_key(recovery_text), wrap.wrapped_key,
        case_key_context(case_id, "recovery", wrap.recipient_id),
    )


def read_back(session: Session, storage: BlobStorage, case_id: uuid.UUID,
              recovery_text: str) -> tuple[list[Any], list[tuple[dict[str, Any], bytes]]]:
    """Every payload and (metadata, plaintext) attachment of a case, via the recovery key."""
    key = case_key_by_recovery(session, case_id, recovery_text)
    subs = session.exec(select(Submission).where(col(Submission.case_id) == case_id)).all()
    atts = session.exec(select(Attachment).where(col(Attachment.case_id) == case_id)).all()
    payloads = [contexts.open_payload(key, s) for s in subs]
    files = [
        (contexts.open_attachment_metadata(key, a),
         b"".join(contexts.read_attachment(key, a, storage, session)))
        for a in atts
    ]
    return payloads, files


async def asgi_interrupted(app: Any, method: str, path: str, headers: dict[str, str],
                           chunks: list[bytes]) -> int | None:
    """Send ``chunks`` and then drop the connection (http.disconnect) mid-body.

    Returns the response status if the app answered, else None.
    """
    queue: list[dict[str, Any]] = [
        {"type": "http.request", "body": c, "more_body": True} for c in chunks
    ]
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5555), "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    await app(scope, receive, send)
    return status[0] if status else None


def stored_state(engine: Any, storage: BlobStorage) -> dict[str, int]:
    """Row counts of every intake table plus the number of blobs (complete or partial)."""
    from sqlalchemy import text

    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in ("cases", "submission", "attachment", "receipt", "case_key_wrap",
                      "upload", "file_part", "case_message", "followup_session"):
            sql = text(f'SELECT count(*) FROM "{table}"')  # noqa: S608 (fixed names)
            counts[table] = int(conn.execute(sql).scalar_one())
    counts["blobs"] = sum(1 for _ in storage.iter_blobs())
    return counts


def upload_integer_values(engine: Any) -> list[int]:
    """Every value of every integer column of the upload tables (what a seizure sees)."""
    from sqlalchemy import Integer, inspect, text

    values: list[int] = []
    with engine.connect() as conn:
        for table in ("upload", "file_part"):
            cols = [c["name"] for c in inspect(conn).get_columns(table)
                    if isinstance(c["type"], Integer)]
            assert cols, table
            names = ", ".join(f'"{c}"' for c in cols)
            for row in conn.execute(text(
                    f'SELECT {names} FROM "{table}"')):  # noqa: S608 (schema names)
                values += [v for v in row if v is not None]
    return values
