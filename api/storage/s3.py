"""Blobs in an S3-compatible object store (AWS S3, MinIO, Ceph, moto in tests).

Writes stream: bytes are buffered up to ``PART_SIZE`` (S3's minimum part is 5 MiB)
and sent as parts of a multipart upload from the calling worker thread, so memory per
writer stays at one part. An object smaller than one part is sent with one
``PutObject`` at commit. Nothing is visible under the key before commit; an aborted
writer aborts its multipart upload. Unfinished multipart uploads left by a crash are
reported by :meth:`S3Storage.iter_blobs` (``complete=False``) so the orphan sweep
aborts them. Object keys are the generated blob names; no metadata or tags are set.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, BinaryIO, cast

from pydantic import SecretStr

from api.core.settings import Settings
from api.storage.base import BlobInfo, StorageError, check_name
from crypto.redaction import redacting

# boto3's S3 client type stubs are not installed; the client is typed loosely.
S3Client = Any

PART_SIZE = 8 * 1024 * 1024


def make_client(settings: Settings) -> S3Client:
    """The blob store's client."""
    return client_for(settings.s3_endpoint_url, settings.s3_region, settings.s3_access_key_id,
                      settings.s3_secret_access_key,
                      config={"retries": {"max_attempts": 5, "mode": "standard"},
                                     "max_pool_connections": 64})


def client_for(endpoint_url: str | None, region: str | None, key_id: SecretStr | None,
               secret: SecretStr | None, *, config: dict[str, Any]) -> S3Client:
    """An S3 client for one endpoint and its credentials (the blob store, or the audit
    log's write-once bucket, which has credentials of its own)."""
    # boto3 is imported lazily: it costs tens of MiB that local-storage servers never need.
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=key_id.get_secret_value() if key_id else None,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=Config(**config),
    )


class S3BlobWriter:
    def __init__(self, client: S3Client, bucket: str, name: str) -> None:
        self.name = name
        self._client = client
        self._bucket = bucket
        self._buf = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._size = 0
        self._closed = False

    def write(self, data: bytes | bytearray | memoryview, /) -> None:
        if self._closed:
            raise StorageError("blob writer is closed")
        self._buf += data
        self._size += len(data)
        while len(self._buf) >= PART_SIZE:
            self._send_part(bytes(self._buf[:PART_SIZE]))
            del self._buf[:PART_SIZE]

    def _send_part(self, body: bytes) -> None:
        if self._upload_id is None:
            self._upload_id = self._client.create_multipart_upload(
                Bucket=self._bucket, Key=self.name
            )["UploadId"]
        number = len(self._parts) + 1
        etag = self._client.upload_part(
            Bucket=self._bucket, Key=self.name, UploadId=self._upload_id,
            PartNumber=number, Body=body,
        )["ETag"]
        self._parts.append({"ETag": etag, "PartNumber": number})

    def commit(self) -> int:
        if self._closed:
            raise StorageError("blob writer is closed")
        try:
            if self._upload_id is None:
                self._client.put_object(Bucket=self._bucket, Key=self.name, Body=bytes(self._buf))
            else:
                if self._buf:
                    self._send_part(bytes(self._buf))
                self._client.complete_multipart_upload(
                    Bucket=self._bucket, Key=self.name, UploadId=self._upload_id,
                    MultipartUpload=cast(Any, {"Parts": self._parts}),
                )
        except Exception:
            self.abort()
            raise
        self._closed = True
        self._buf = bytearray()
        return self._size

    def abort(self) -> None:
        self._closed = True
        self._buf = bytearray()
        if self._upload_id is not None:
            upload_id, self._upload_id = self._upload_id, None
            # If this fails too, the orphan sweep aborts the upload later.
            with contextlib.suppress(Exception):
                self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=self.name, UploadId=upload_id
                )


@redacting(lambda _: "")
class S3Storage:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        return cls(make_client(settings), settings.s3_bucket)

    def open_writer(self, name: str) -> S3BlobWriter:
        return S3BlobWriter(self.client, self.bucket, check_name(name))

    def open_reader(self, name: str) -> BinaryIO:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=check_name(name))["Body"]
        except self.client.exceptions.NoSuchKey:
            raise StorageError("blob not found") from None
        return cast(BinaryIO, body)

    def delete(self, name: str) -> None:
        check_name(name)
        self.client.delete_object(Bucket=self.bucket, Key=name)
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=name
        )
        for page in pages:
            for up in page.get("Uploads", []):
                if up.get("Key") == name:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=name, UploadId=up["UploadId"]
                    )

    def _head(self, name: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return cast(dict[str, Any], self.client.head_object(Bucket=self.bucket,
                                                                Key=check_name(name)))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def exists(self, name: str) -> bool:
        return self._head(name) is not None

    def size(self, name: str) -> int:
        head = self._head(name)
        if head is None:
            raise StorageError("blob not found")
        return int(head["ContentLength"])

    def iter_blobs(self) -> Iterator[BlobInfo]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for obj in page.get("Contents", []):
                yield BlobInfo(name=obj["Key"], size=int(obj["Size"]),
                               modified=obj["LastModified"])
        for page in self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket
        ):
            for up in page.get("Uploads", []):
                yield BlobInfo(name=up["Key"], size=0, modified=up["Initiated"], complete=False)

    def free_bytes(self) -> int | None:
        return None
