"""Response bodies of a case's files."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AttachmentOut(BaseModel):
    id: uuid.UUID
    submission_id: uuid.UUID | None
    kind: str
    derived_from_id: uuid.UUID | None
    ciphertext_size: int
    created_at: datetime
    metadata: dict[str, Any]
