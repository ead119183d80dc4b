"""Encryption contexts of a thread's testimony, in one place so every reader agrees.

Intake and follow-up write these rows and the case reads them; the contexts live with the
case's threads so neither door has to import the other.

All of these are sealed with the per-case key (``crypto.keys.DataKey``) - how the case
key itself is wrapped is :func:`api.keys.service.case_key_context`.

=====================================  ==================================================
what                                   how
=====================================  ==================================================
``submission.payload``                 ``SealedJSON``, context
                                       ``case/<case id>/submission/<id>/payload`` (the
                                       ``SubmissionIn`` document minus transport fields,
                                       or for a follow-up the ``FollowupIn``)
``attachment.sealed_metadata``         ``SealedJSON``,
                                       ``case/<case id>/attachment/<id>/metadata``:
                                       filename, claimed_type, detected_type, size, sha256
``attachment.wrapped_file_key``        ``wrap_data_key_symmetric(case_key, file_key,
                                       b"dokaz/file-key/<case id>/<attachment id>")``
attachment blob                        ``crypto.stream`` file, file id = attachment id
``case_message.body``                  ``SealedText``, ``case/<case id>/message/<id>/body``
=====================================  ==================================================

The ``<case id>`` in each context is the row's ``key_case_id``: the case whose key seals
it, which is where its thread was first received. Merge and split move a thread's
``case_id`` but never re-seal it, so the submitter's receipt (wrapped to that key) keeps
opening exactly their own thread (threat model property 11). A value copied onto another
row or key case still fails to open. These agree with :mod:`api.cases.metadata.contexts`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlmodel import Session

from api.cases.files import stored
from api.cases.files.models import Attachment
from api.cases.threads.models import Submission
from api.storage.base import BlobStorage
from crypto import DataKey, SealedJSON, SealedText
from crypto.sealed import unwrap_data_key_symmetric, wrap_data_key_symmetric


def payload_context(case_id: uuid.UUID, submission_id: uuid.UUID) -> str:
    return f"case/{case_id}/submission/{submission_id}/payload"


def attachment_metadata_context(case_id: uuid.UUID, attachment_id: uuid.UUID) -> str:
    return f"case/{case_id}/attachment/{attachment_id}/metadata"


def file_key_context(case_id: uuid.UUID, attachment_id: uuid.UUID) -> bytes:
    return f"dokaz/file-key/{case_id}/{attachment_id}".encode()


def message_context(case_id: uuid.UUID, message_id: uuid.UUID) -> str:
    return f"case/{case_id}/message/{message_id}/body"


def wrap_file_key(case_key: DataKey, case_id: uuid.UUID, attachment_id: uuid.UUID,
                  file_key: DataKey) -> bytes:
    return wrap_data_key_symmetric(case_key.raw, file_key, file_key_context(case_id,
                                                                             attachment_id))


def open_payload(case_key: DataKey, submission: Submission) -> Any:
    return SealedJSON(submission.payload).open(
        case_key, payload_context(submission.key_case_id, submission.id)
    )


def open_attachment_metadata(case_key: DataKey, attachment: Attachment) -> dict[str, Any]:
    value: dict[str, Any] = SealedJSON(attachment.sealed_metadata).open(
        case_key, attachment_metadata_context(attachment.key_case_id, attachment.id)
    )
    return value


def attachment_file_key(case_key: DataKey, attachment: Attachment) -> DataKey:
    return unwrap_data_key_symmetric(
        case_key.raw, attachment.wrapped_file_key,
        file_key_context(attachment.key_case_id, attachment.id),
    )


def read_attachment(case_key: DataKey, attachment: Attachment, storage: BlobStorage,
                    session: Session | None = None) -> Iterator[bytes]:
    """Authenticated plaintext records of an attachment (see crypto.stream on partial
    output). A file in parts (a finished tus upload) needs ``session`` to find them."""
    key = attachment_file_key(case_key, attachment)
    size = open_attachment_metadata(case_key, attachment).get("size")
    return stored.plaintext(session, storage, attachment, key,
                            size if isinstance(size, int) else None)


def seal_message(case_key: DataKey, case_id: uuid.UUID, message_id: uuid.UUID,
                 text: str) -> bytes:
    return SealedText.seal(case_key, text, message_context(case_id, message_id)).ciphertext


def open_message(case_key: DataKey, case_id: uuid.UUID, message_id: uuid.UUID,
                 body: bytes) -> str:
    return SealedText(body).open(case_key, message_context(case_id, message_id))
