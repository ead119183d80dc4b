"""Audit checkpoints kept off the server (threat model, property 14).

Whoever holds the database can delete entries, recompute every later hash and the head,
and clear ``audit_checkpoint``: the chain then verifies. What they cannot rewrite is a copy
that already left the server. A worker job (workers/jobs/audit_ship.py) ships the chain
head whenever it moved:

* to an S3 bucket with Object Lock, one object per checkpoint (key ends with the zero-padded
  sequence number), each stored in COMPLIANCE mode until ``audit_ship_retention_days``:
  nobody can delete or replace it before then, including the holder of the credentials the
  server uses. The object also lists the hash of every entry since the previous shipped
  checkpoint, so verification names the first rewritten entry, not just a later head;
* by mail, one short message per checkpoint (the head only).

Both use one line format, the one ``dokaz audit checkpoint`` prints: ``SEQ:HASH``. A
hash covers only ids, actions and times (api/audit/chain.py), never case content.

Verification reads every *version* of every object under the prefix: a bucket with Object
Lock is versioned, so a forger who puts a new object under an existing key adds a version
next to the original instead of replacing it, and any version that disagrees with the
chain fails verification.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from api.audit.chain import format_time
from api.audit.models import AuditEntry, AuditShipment
from api.core.errors import DokazError
from api.core.models import utcnow
from api.core.settings import Settings
from api.storage.s3 import client_for
from crypto.redaction import redacting

TARGETS = ("s3", "mail")
OBJECT_SUFFIX = ".txt"
# "SEQ:HASH", optionally indented or quoted ("> ") as a mail client does when forwarding.
_LINE = re.compile(r"^[\s>]*(\d{1,19}):([0-9a-fA-F]{64})\s*$")


class ShippedCheckpointsUnavailable(DokazError):
    status_code = 503
    code = "audit_checkpoints_unavailable"
    default_message = (
        "The checkpoints shipped off the server could not be read, so the audit log was not "
        "verified against them. Check the DOKAZ_AUDIT_SHIP_S3_* settings and the bucket."
    )


class ShippingFailed(Exception):
    """At least one target did not take the checkpoint; the job is retried."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """A (seq, hash) kept outside the database, and where it came from (for messages).

    A log of a million entries has a million shipped lines; the lines of one object share
    one ``source`` string, so they cost little more than their hashes.
    """

    seq: int
    entry_hash: str
    source: str
    line: int | None = None

    @property
    def where(self) -> str:
        return self.source if self.line is None else f"{self.source} line {self.line}"


@dataclass(frozen=True)
class Checkpoint:
    """What one shipment carries: the head, and the hashes since the last shipment."""

    seq: int
    entry_hash: str
    hashes: tuple[tuple[int, str], ...]


# ---- the line format ----

def parse_lines(text: str, source: str) -> list[Anchor]:
    """Every ``SEQ:HASH`` line of ``text``; other lines (comments, mail headers) are skipped."""
    found: list[Anchor] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        if match:
            found.append(Anchor(int(match.group(1)), match.group(2).lower(), source, number))
    return found


def read_file(path: Path) -> list[Anchor]:
    """Checkpoint lines from a file: saved mails, downloaded objects, `audit checkpoint` output.

    Raises ValueError when the file holds no checkpoint line at all, so a wrong file is not
    mistaken for "nothing to compare".
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    anchors = parse_lines(text, str(path))
    if not anchors:
        raise ValueError(f"{path} contains no checkpoint line (SEQ:HASH)")
    return anchors


def object_text(cp: Checkpoint, shipped_at: datetime) -> str:
    lines = [f"# dokaz audit checkpoint v1: head #{cp.seq}, shipped {format_time(shipped_at)}",
             "# one line per entry since the previous checkpoint; the last line is the head"]
    lines += [f"{seq}:{digest}" for seq, digest in cp.hashes]
    return "\n".join(lines) + "\n"


def compose_mail(settings: Settings, cp: Checkpoint, shipped_at: datetime) -> EmailMessage:
    """The head only: a sequence number and a hash, nothing from any case."""
    assert settings.audit_ship_mail_to
    msg = EmailMessage()
    msg["Subject"] = f"Dokaz audit checkpoint #{cp.seq}"
    msg["From"] = settings.smtp_from
    msg["To"] = settings.audit_ship_mail_to
    msg.set_content("\n".join([
        "Checkpoint of the Dokaz audit log. Keep this message.",
        "",
        f"{cp.seq}:{cp.entry_hash}",
        "",
        f"Shipped {format_time(shipped_at)}. To check the log against it, save",
        "these mails to a file and run: dokaz audit verify --checkpoints FILE",
        "By design this message contains no case content.",
    ]) + "\n")
    return msg


# ---- what to ship (database side) ----

def pending(session: Session, target: str, max_hashes: int) -> Checkpoint | None:
    """The checkpoint ``target`` has not had yet, or None if the head has not moved."""
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    # Chained entries only (seq not null): an unchained one has no hash to ship yet.
    head = session.execute(
        select(table.c.seq, table.c.entry_hash).where(table.c.seq.is_not(None))
        .order_by(table.c.seq.desc()).limit(1)
    ).first()
    if head is None:
        return None  # an empty log: nothing to protect yet
    last = session.execute(
        select(AuditShipment)
        .where(col(AuditShipment.target) == target)
        .order_by(col(AuditShipment.shipped_at).desc(), col(AuditShipment.seq).desc())
        .limit(1)
    ).scalar_one_or_none()
    if last is not None and (last.seq, last.entry_hash) == (head.seq, head.entry_hash):
        return None
    # After a shrinking head (which verification will flag) list from the start again.
    since = last.seq if last is not None and last.seq < head.seq else 0
    since = max(since, head.seq - max_hashes)
    rows = session.execute(
        select(table.c.seq, table.c.entry_hash)
        .where(table.c.seq > since, table.c.seq <= head.seq)
        .order_by(table.c.seq)
    ).all()
    hashes = tuple((int(r.seq), str(r.entry_hash)) for r in rows)
    if not hashes or hashes[-1] != (head.seq, head.entry_hash):
        hashes = (*hashes, (int(head.seq), str(head.entry_hash)))
    return Checkpoint(int(head.seq), str(head.entry_hash), hashes)


def mark_shipped(session: Session, target: str, cp: Checkpoint, shipped_at: datetime) -> None:
    session.add(AuditShipment(target=target, seq=cp.seq, entry_hash=cp.entry_hash,
                              shipped_at=shipped_at))
    session.flush()


@dataclass(frozen=True)
class TargetStatus:
    target: str
    last_seq: int | None
    last_shipped_at: datetime | None
    # True when an entry the target has not had is older than two shipping intervals:
    # the job is failing (see the dead jobs) or no worker runs.
    behind: bool


def status(session: Session, settings: Settings, now: datetime | None = None
           ) -> tuple[int, list[TargetStatus]]:
    """The head and, per configured target, the last checkpoint it took."""
    table = AuditEntry.__table__  # type: ignore[attr-defined]
    head = session.execute(select(table.c.seq).where(table.c.seq.is_not(None))
                           .order_by(table.c.seq.desc()).limit(1)).scalar()
    head_seq = int(head or 0)
    grace = timedelta(minutes=2 * settings.audit_ship_interval_minutes)
    now = now or utcnow()
    out: list[TargetStatus] = []
    for target in settings.audit_ship_targets:
        last = session.execute(
            select(AuditShipment).where(col(AuditShipment.target) == target)
            .order_by(col(AuditShipment.shipped_at).desc(), col(AuditShipment.seq).desc())
            .limit(1)
        ).scalar_one_or_none()
        last_seq = last.seq if last is not None else 0
        oldest_unshipped = session.execute(
            select(table.c.created_at).where(table.c.seq > last_seq)
            .order_by(table.c.seq).limit(1)
        ).scalar()
        behind = oldest_unshipped is not None and oldest_unshipped < now - grace
        out.append(TargetStatus(target, last.seq if last else None,
                                last.shipped_at if last else None, behind))
    return head_seq, out


# ---- the bucket ----

@redacting(lambda _: "")
class CheckpointBucket:
    """The write-once bucket. Its client and credentials are its own, not the blob store's."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        if not settings.audit_ship_s3_bucket:
            raise ValueError("DOKAZ_AUDIT_SHIP_S3_BUCKET is not set")
        self.bucket = settings.audit_ship_s3_bucket
        self.prefix = settings.audit_ship_s3_prefix
        self.retention = timedelta(days=settings.audit_ship_retention_days)
        self.client = client if client is not None else _make_client(settings)

    def key(self, seq: int) -> str:
        # Zero-padded, so listing order is sequence order.
        return f"{self.prefix}{seq:020d}{OBJECT_SUFFIX}"

    def put(self, cp: Checkpoint, now: datetime | None = None) -> str:
        """Store one checkpoint object, locked in COMPLIANCE mode; returns its key.

        The lock is set on the object itself, so it holds even if the bucket's default
        retention is missing or shorter. A retry puts another version with the same lines.
        """
        shipped_at = now or utcnow()
        key = self.key(cp.seq)
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=object_text(cp, shipped_at).encode("ascii"),
            ContentType="text/plain; charset=us-ascii",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=shipped_at + self.retention,
            # S3 requires an integrity checksum on writes that set Object Lock.
            ChecksumAlgorithm="SHA256",
        )
        return key

    def anchors(self) -> Iterator[Anchor]:
        """Every checkpoint line of every version of every object under the prefix."""
        pages = self.client.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for version in page.get("Versions", []):
                key, version_id = version["Key"], version.get("VersionId")
                args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
                if version_id and version_id != "null":
                    args["VersionId"] = version_id
                body = self.client.get_object(**args)["Body"].read()
                source = f"s3://{self.bucket}/{key} (version {version_id})"
                yield from parse_lines(body.decode("ascii", errors="replace"), source)


def _make_client(settings: Settings) -> Any:
    return client_for(settings.audit_ship_s3_endpoint_url, settings.audit_ship_s3_region,
                      settings.audit_ship_s3_access_key_id,
                      settings.audit_ship_s3_secret_access_key,
                      config={"retries": {"max_attempts": 3, "mode": "standard"},
                                     "connect_timeout": 10, "read_timeout": 30})


def shipped_anchors(settings: Settings, extra: Iterable[Anchor] = ()) -> list[Anchor]:
    """The checkpoints in the bucket (if one is configured) plus ``extra``.

    Raises ShippedCheckpointsUnavailable if the bucket cannot be read: verifying without
    them would report "OK" for exactly the rewrite they exist to catch.
    """
    anchors = list(extra)
    if settings.audit_ship_s3_bucket:
        try:
            anchors += list(CheckpointBucket(settings).anchors())
        except Exception as exc:
            raise ShippedCheckpointsUnavailable(
                details={"error_type": type(exc).__name__}) from None
    return anchors
