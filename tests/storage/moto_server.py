"""A moto S3 server in server mode over real HTTP on 127.0.0.1 (one per test session)."""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest


def free_port() -> int:
    """A port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class MotoS3:
    endpoint: str

    def settings_overrides(self, bucket: str) -> dict[str, Any]:
        return {"storage_backend": "s3", "s3_endpoint_url": self.endpoint,
                "s3_bucket": bucket, "s3_access_key_id": "testing",
                "s3_secret_access_key": "testing", "s3_region": "us-east-1"}

    def new_bucket(self) -> str:
        import boto3

        name = "dokaz-" + secrets.token_hex(6)
        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                     aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield MotoS3(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
