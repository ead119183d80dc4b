"""Blob storage for ciphertext: local data directory (default) or an S3-compatible store.

Use :func:`get_storage` to build the configured backend; see :mod:`api.storage.base`
for the interface, :mod:`api.storage.pending` for deleting blobs of a rolled-back
transaction, and :mod:`api.storage.sweep` for the crash-safety sweep.
"""

from __future__ import annotations

from api.core.settings import Settings
from api.storage.base import BlobInfo, BlobStorage, BlobWriter, StorageError, generate_name

__all__ = [
    "BlobInfo",
    "BlobStorage",
    "BlobWriter",
    "StorageError",
    "generate_name",
    "get_storage",
]


def get_storage(settings: Settings) -> BlobStorage:
    if settings.storage_backend == "s3":
        from api.storage.s3 import S3Storage

        return S3Storage.from_settings(settings)
    from api.storage.local import LocalStorage

    return LocalStorage(settings.data_dir / "blobs", direct_io=settings.storage_direct_io)
