"""Every column that names a blob in storage, composed in one place.

The orphan sweep deletes any blob no listed column names, so a feature that stores blobs
must add its select here or its blobs are deleted once older than the grace period. The
list lives at the top of ``api`` (like :mod:`api.models`) because storage sits below the
features that own these tables; the sweep job, ``dokaz fsck`` and backups all use it.
"""

from __future__ import annotations

from api.cases.files import repository as case_files
from api.storage.sweep import BlobReferences
from api.uploads import repository as uploads


def blob_references() -> BlobReferences:
    return [*case_files.attachment_blob_names(), *uploads.blob_names()]
