"""Associated-data contexts of everything sealed with a case key.

Binding the case id (and the row id) into each context means a ciphertext copied onto
another row or case fails to open instead of being shown in the wrong place. Merge and
split never re-seal a moved thread: its rows keep naming the case whose key seals them
(``key_case_id``), the only key the submitter's receipt opens (:mod:`api.cases.threads.keyrings`).
Case-level values (metadata, events, consents) stay with their case and its key.

Submission payloads, attachment metadata and file keys, and messages are written by
intake and follow-up; their contexts live with the threads, in
:mod:`api.cases.threads.contexts`.
"""

from __future__ import annotations

import uuid


def metadata_context(case_id: uuid.UUID, table: str, row_id: uuid.UUID) -> str:
    """Context of a ``sealed`` column of a metadata row (``case_person`` etc.)."""
    return f"case/{case_id}/{table}/{row_id}"


def summary_context(case_id: uuid.UUID) -> str:
    return f"case/{case_id}/summary"


def event_comment_context(case_id: uuid.UUID, event_id: uuid.UUID) -> str:
    return f"case/{case_id}/event/{event_id}/comment"


def consent_note_context(case_id: uuid.UUID, consent_id: uuid.UUID) -> str:
    return f"case/{case_id}/consent/{consent_id}/note"

