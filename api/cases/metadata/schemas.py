"""Request and response bodies of a case's consents."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from api.cases.metadata.codes import ConsentScope
from api.cases.metadata.document import Long, Strict


class ConsentIn(Strict):
    person_id: uuid.UUID
    scope: ConsentScope
    note: Long | None = None


class ConsentOut(BaseModel):
    id: uuid.UUID
    person_id: uuid.UUID
    scope: str
    version: int
    recorded_by_id: uuid.UUID | None
    recorded_at: datetime
    revoked_at: datetime | None
    revoked_by_id: uuid.UUID | None
    active: bool
    # "intake": given in the report (source_submission_id), not yet confirmed by staff;
    # on_behalf: given there by a relative or lawyer for this person.
    source: str = "staff"
    source_submission_id: uuid.UUID | None = None
    on_behalf: bool = False
    note: str | None = None
