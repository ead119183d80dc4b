"""Opening the content intake and follow-up stored under a thread's case key.

The contexts are the threads' (:mod:`api.cases.threads.contexts`); each names the row's key case
(``key_case_id``) and the row. Moving a thread to another case (merge, split) changes only
``case_id`` (:func:`api.cases.threads.repository.move_thread`): nothing is re-sealed,
because the submitter's receipt opens only the key the thread was sealed under
(:mod:`api.cases.threads.keyrings`).
"""

from __future__ import annotations

import uuid
from typing import Any

from api.cases.threads import contexts
from api.cases.threads.models import CaseMessage
from crypto.fields import SealedJSON
from crypto.keys import DataKey

open_payload = contexts.open_payload
open_attachment_metadata = contexts.open_attachment_metadata
open_file_key = contexts.attachment_file_key
wrap_file_key = contexts.wrap_file_key


def seal_attachment_metadata(key: DataKey, key_case_id: uuid.UUID, attachment_id: uuid.UUID,
                             metadata: dict[str, Any]) -> bytes:
    return SealedJSON.seal(
        key, metadata, contexts.attachment_metadata_context(key_case_id, attachment_id)).ciphertext


def open_message(key: DataKey, msg: CaseMessage) -> str:
    return contexts.open_message(key, msg.key_case_id, msg.id, msg.body)


def seal_message(key: DataKey, key_case_id: uuid.UUID, message_id: uuid.UUID,
                 body: str) -> bytes:
    return contexts.seal_message(key, key_case_id, message_id, body)


