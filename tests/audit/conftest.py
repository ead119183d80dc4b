"""Off-server targets for audit checkpoints: moto S3 (server mode, real HTTP) and aiosmtpd,
both on 127.0.0.1."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.storage.moto_server import MotoS3, free_port, moto_s3

__all__ = ["Inbox", "LockedS3", "free_port", "moto_s3"]

@dataclass
class LockedS3:
    endpoint: str

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def new_bucket(self, days: int = 1) -> str:
        """A bucket as an operator makes one: Object Lock on, COMPLIANCE by default."""
        name = "dokaz-audit-" + secrets.token_hex(6)
        client = self.client()
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        client.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": days}},
        })
        return name

    def overrides(self, bucket: str) -> dict[str, Any]:
        return {"audit_ship_s3_bucket": bucket, "audit_ship_s3_endpoint_url": self.endpoint,
                "audit_ship_s3_access_key_id": "testing",
                "audit_ship_s3_secret_access_key": "testing",
                "audit_ship_retention_days": 2}


@pytest.fixture(scope="session")
def locked_s3(moto_s3: MotoS3) -> LockedS3:
    """The session's moto server; its buckets for checkpoints are made with Object Lock."""
    return LockedS3(moto_s3.endpoint)


@dataclass
class Inbox:
    port: int = 0
    messages: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"

    def overrides(self, to: str = "audit-copy@example.org") -> dict[str, Any]:
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_starttls": False,
                "smtp_from": "dokaz@example.org", "audit_ship_mail_to": to}


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
