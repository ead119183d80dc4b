"""Request and response bodies of access to a case: a grant asked for, the wraps shown."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from api.cases.metadata.document import Strict


class GrantIn(Strict):
    staff_id: uuid.UUID


class AccessOut(BaseModel):
    recipient_kind: str
    recipient_id: uuid.UUID
    granted_by_id: uuid.UUID | None
    created_at: datetime
