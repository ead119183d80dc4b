"""Client traffic for system tests and the load benchmark, and reading cases back.

* :func:`multipart_body` builds a ``multipart/form-data`` body by hand, so a test can
  stream it slowly (a generator body, chunked) and be killed half way.
* :class:`Sent` remembers what one submission sent (a canary in the narrative and the
  SHA-256 of each file) and what came back (receipt, reference, or the error).
* :func:`open_case` decrypts a stored case from outside the server with the offline
  recovery key: the proof that an acknowledged submission is complete and readable.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.cases.files.models import Attachment
from api.cases.models import Case
from api.cases.threads.contexts import open_payload, read_attachment
from api.cases.threads.models import Submission
from api.keys.models import CaseKeyWrap
from api.keys.service import case_key_context
from api.storage.base import BlobStorage
from crypto.recovery import parse_recovery_key
from crypto.sealed import unwrap_data_key
from tests.factories import sample_report


def multipart_body(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]
                   ) -> tuple[str, bytes]:
    """(content type, body) for text ``fields`` then ``files`` (name, filename, bytes)."""
    boundary = "dokaz" + secrets.token_hex(12)
    out = bytearray()
    for name, value in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                ).encode() + value.encode() + b"\r\n"
    for name, filename, data in files:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(out)


def slow_chunks(body: bytes, chunk: int, pause: float) -> Iterator[bytes]:
    for i in range(0, len(body), chunk):
        yield body[i:i + chunk]
        time.sleep(pause)


@dataclass
class Sent:
    canary: str
    file_hashes: list[str]
    status: int | None = None  # None: no HTTP answer (the connection broke)
    receipt: str | None = None
    reference: str | None = None
    error: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.status == 201 and self.receipt is not None


def random_file(size: int, canary: str) -> bytes:
    # Random bytes (incompressible, detected as application/octet-stream) with the canary.
    return canary.encode() + secrets.token_bytes(size)


@dataclass
class Submitter:
    base_url: str
    file_sizes: tuple[int, ...] = (256 * 1024,)
    extra: dict[str, Any] = field(default_factory=dict)

    def prepare(self) -> tuple[Sent, str, bytes]:
        canary = "CANARY" + secrets.token_hex(8)
        report = sample_report(narrative=f"Narrative {canary}", **self.extra)
        files = [("files", f"{canary}-{i}.bin", random_file(size, canary))
                 for i, size in enumerate(self.file_sizes)]
        ctype, body = multipart_body([("submission", json.dumps(report))], files)
        sent = Sent(canary, [hashlib.sha256(f[2]).hexdigest() for f in files])
        return sent, ctype, body

    def send(self, client: httpx.Client, *, slow: float = 0.0, chunk: int = 64 * 1024) -> Sent:
        sent, ctype, body = self.prepare()
        content: Any = slow_chunks(body, chunk, slow) if slow else body
        try:
            r = client.post(self.base_url + "/api/v1/submissions", content=content,
                            headers={"Content-Type": ctype}, timeout=120)
        except httpx.HTTPError as exc:
            sent.error = type(exc).__name__
            return sent
        sent.status = r.status_code
        if r.status_code == 201:
            data = r.json()
            sent.receipt, sent.reference = data["receipt"], data["reference"]
            assert [f["sha256"] for f in data["files"]] == sent.file_hashes
        else:
            sent.error = r.text[:300]
        return sent


@dataclass
class OpenedCase:
    reference: str
    narratives: list[str]
    file_hashes: list[str]


def recovery_private(recovery_text: str) -> bytes:
    return parse_recovery_key(recovery_text)


def open_case(engine: Engine, storage: BlobStorage, private: bytes, case: Case
              ) -> OpenedCase:
    """Decrypt a case's submissions and files with the recovery key; raises if anything
    is missing, truncated or fails authentication."""
    with Session(engine) as s:
        wrap = s.exec(select(CaseKeyWrap).where(
            col(CaseKeyWrap.case_id) == case.id,
            col(CaseKeyWrap.recipient_kind) == "recovery")).one()
        key = unwrap_data_key(private, wrap.wrapped_key,
                              case_key_context(case.id, "recovery", wrap.recipient_id))
        subs = s.exec(select(Submission).where(col(Submission.case_id) == case.id)).all()
        narratives = [str(open_payload(key, sub).get("narrative", "")) for sub in subs]
        atts = s.exec(select(Attachment).where(col(Attachment.case_id) == case.id)
                      .order_by(col(Attachment.created_at), col(Attachment.id))).all()
        hashes = [hashlib.sha256(b"".join(read_attachment(key, att, storage, s))).hexdigest()
                  for att in atts]
    return OpenedCase(case.reference, narratives, hashes)


def all_cases(engine: Engine) -> list[Case]:
    with Session(engine) as s:
        return list(s.exec(select(Case)).all())


def canary_of(opened: OpenedCase) -> str:
    for text in opened.narratives:
        if "CANARY" in text:
            return "CANARY" + text.split("CANARY", 1)[1][:16]
    return ""


def new_id() -> str:
    return uuid.uuid4().hex
