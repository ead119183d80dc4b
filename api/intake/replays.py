"""One report, once: a reloaded receipt page or a replayed API request files nothing new.

A frightened person who reloads the receipt page re-posts the form; an API client whose
connection broke retries. Either would file a second case with a second receipt. So a
submission may carry a key - the web form's token (its CSRF token and a random per-page
value, :mod:`api.web.csrf`) or the API's ``Idempotency-Key`` header - and the first
submission under a key records it in ``intake_replay`` in the same transaction as the
case. A later submission under the key files nothing and is told the case reference
(:class:`EarlierReport`). The receipt is *not* shown again: it was never stored, and
nothing here keeps it (threat model: nothing stored lets a seized server show a receipt).

Concurrent replays (two API processes, the same key at the same moment) meet at the
table's primary key: the row is inserted first in the case's transaction, so the second
insert waits for the first transaction and then fails (PostgreSQL's unique index;
SQLite's ``BEGIN IMMEDIATE`` serialises the whole transaction) and that request answers
from the row the first one committed. There is no check-then-insert window.

What a row holds, and why it is stored this way (a seized server must not link a key to
a submitter beyond what the case already holds):

* ``lookup`` = HMAC-SHA256(server secret, scope | key). Without the key (which only the
  submitter's browser or client ever held) the row is a random-looking string.
* ``sealed``: the case id (and for the API a SHA-256 fingerprint of the body, to refuse
  the same key with a different report), AES-GCM under a second key derived the same way.
  So a seized database does not say which case a row belongs to, or whether a given case
  was sent with a key at all; and a fingerprint of the plaintext report is never stored
  where the server secret alone would let someone test a guess of the narrative against it.
* ``expires_at``, at day precision (property 13), so it does not date the submission more
  finely than the case's own ``received_on``. The worker deletes expired rows
  (``purge_intake_replays``, hourly; ``DOKAZ_INTAKE_REPLAY_HOURS``).

What remains: whoever holds both the server secret and a key (a seized, still-open
browser with its form cookie, or an API client's own logs) can find that key's case while
the row lives; after the retention the row is gone. The API scope includes the lawyer's
account for a lawyer's submission (which the case names anyway), so two clients picking
the same key do not meet; an anonymous key must be random (we ask for 16 characters at
least), since anyone sending the same key and the same report would be told its reference.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.cases import repository as cases_repository
from api.core.errors import BadRequest, DokazError
from api.core.models import day_ceil
from api.core.settings import Settings
from api.intake import repository
from api.intake.models import IntakeReplay
from crypto import DataKey, SealedJSON

FORM_SCOPE = "web"
KEY_MIN, KEY_MAX = 16, 255
_LOOKUP = b"dokaz-intake-replay-lookup-v1|"
_SEAL = b"dokaz-intake-replay-seal-v1|"


class KeyReused(DokazError):
    """The same ``Idempotency-Key`` came with a different report."""

    status_code = 422
    code = "idempotency_key_reused"
    default_message = (
        "This Idempotency-Key was already used for a different report, so nothing new was "
        "filed. Send a new report with a new key."
    )


class ReplayTaken(Exception):
    """Another transaction recorded this key first (internal: answered from its row)."""


@dataclass(frozen=True, repr=False)
class ReplayKey:
    """What a submission's key becomes here; the key itself is not kept."""

    lookup: str
    seal_key: DataKey
    body: str | None  # fingerprint of what was sent; None: not compared (the web form)

    def __repr__(self) -> str:
        return "ReplayKey(<redacted>)"


@dataclass(frozen=True)
class EarlierReport:
    """A report already filed under the key. ``reference`` is None when that case no
    longer exists (shredded)."""

    reference: str | None


def api_scope(lawyer_id: uuid.UUID | None) -> str:
    return "api" if lawyer_id is None else f"lawyer:{lawyer_id}"


def parse_api_key(value: str | None) -> str | None:
    """The ``Idempotency-Key`` header's key (a bare token or a structured-field string)."""
    if value is None:
        return None
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not (KEY_MIN <= len(key) <= KEY_MAX) or not all(33 <= ord(c) <= 126 for c in key):
        raise BadRequest(
            f"Idempotency-Key must be {KEY_MIN} to {KEY_MAX} visible ASCII characters "
            "(for example a random UUID), different for every report. Nothing was saved."
        )
    return key


def derive(settings: Settings, scope: str, key: str, body: str | None = None) -> ReplayKey:
    secret = settings.secret_key.get_secret_value().encode()
    material = scope.encode() + b"\x00" + key.encode()
    lookup = hmac.new(secret, _LOOKUP + material, hashlib.sha256).hexdigest()
    seal = hmac.new(secret, _SEAL + material, hashlib.sha256).digest()
    return ReplayKey(lookup, DataKey(seal), body)


def fingerprint(data: BaseModel, file_hashes: list[str]) -> str:
    """SHA-256 of the report as parsed (so spacing and key order do not matter) and of the
    files' own SHA-256 values, in order."""
    doc = {"report": data.model_dump(mode="json"), "files": file_hashes}
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _context(lookup: str) -> str:
    return f"intake-replay:{lookup}"


def _seal(key: ReplayKey, case_id: uuid.UUID | None) -> bytes:
    value: dict[str, Any] = {"case": None if case_id is None else str(case_id),
                             "body": key.body}
    return SealedJSON.seal(key.seal_key, value, _context(key.lookup)).ciphertext


def claim(session: Session, settings: Settings, key: ReplayKey, now: datetime) -> None:
    """Record the key before anything else of the submission is written (flush only);
    :class:`ReplayTaken` if another submission holds it."""
    repository.delete_expired_replays(session, now, key.lookup)
    session.add(IntakeReplay(
        lookup=key.lookup, sealed=_seal(key, None),
        expires_at=day_ceil(now + timedelta(hours=settings.intake_replay_hours)),
    ))
    try:
        session.flush()
    except IntegrityError:
        raise ReplayTaken() from None


def bind(session: Session, key: ReplayKey, case_id: uuid.UUID) -> None:
    """Seal the new case's id into the row :func:`claim` wrote (flush only)."""
    row = repository.replay_row(session, key.lookup)
    assert row is not None, "claim() came first in this transaction"
    row.sealed = _seal(key, case_id)
    session.add(row)
    session.flush()


def find(session: Session, key: ReplayKey, now: datetime) -> EarlierReport | None:
    """The report filed under ``key``, if its row has not expired; :class:`KeyReused` if
    it was filed with a different body."""
    row = repository.replay_row(session, key.lookup)
    if row is None or row.expires_at <= now:
        return None
    content = SealedJSON(row.sealed).open(key.seal_key, _context(key.lookup))
    if key.body is not None and content.get("body") not in (None, key.body):
        raise KeyReused()
    case = content.get("case")
    if case is None:  # claimed by a transaction that had not committed: cannot be seen
        return None
    return EarlierReport(cases_repository.reference_of(session, uuid.UUID(case)))


def purge(session: Session, now: datetime) -> int:
    """Delete every expired row (the worker's hourly job)."""
    return repository.delete_expired_replays(session, now)
