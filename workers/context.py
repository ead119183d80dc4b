"""What a job handler is given: settings, the engine, its transaction, and its claim."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlmodel import Session

from api.core.settings import Settings
from api.jobs.repository import Claim
from api.storage import BlobStorage, get_storage


class LostClaim(Exception):
    """Another worker took this job over (our lease ran out); stop without side effects."""


@dataclass
class JobContext:
    settings: Settings
    engine: Engine
    claim: Claim
    _session: Session | None = None
    lost: threading.Event = field(default_factory=threading.Event)

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("this job kind is not transactional; open a unit_of_work")
        return self._session

    @cached_property
    def storage(self) -> BlobStorage:
        return get_storage(self.settings)

    def ensure_claim(self) -> None:
        """Raise LostClaim if a heartbeat found the job taken over by another worker."""
        if self.lost.is_set():
            raise LostClaim
