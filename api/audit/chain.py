"""The hash chain format of the audit log (version 1).

Each entry's hash covers its own fields and the previous entry's hash::

    payload    = JSON array, no spaces, UTF-8:
                 ["dokaz-audit-v1", seq, created_at, action, actor_kind, actor_id,
                  case_id, target, details, prev_hash]
    entry_hash = lowercase hex SHA-256(payload)

``created_at`` is ISO 8601 UTC with microseconds and a ``Z``; ids are lowercase UUID
strings or null; ``details`` is the stored canonical JSON text (sorted keys, no spaces).
The first entry's ``prev_hash`` is 64 zeros. Sequence numbers start at 1 with no gaps.

So editing any field changes that entry's hash; deleting or inserting an entry breaks
the sequence or the next ``prev_hash``; moving entries breaks both. A rewrite of the
whole tail with fresh hashes is caught by comparing the chain with checkpoints kept off
the server: the worker ships them (api/audit/shipping.py) and ``dokaz audit checkpoint``
prints one.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64
VERSION_TAG = "dokaz-audit-v1"

DetailValue = str | int | bool | None

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_DETAIL_KEYS = 24
MAX_DETAIL_STRING = 200


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_details(details: Mapping[str, DetailValue] | None) -> str:
    """Validate and serialise details. Values are ids, counts, flags and field names.

    Raises ValueError for anything else, so a caller cannot slip content in by mistake
    (long strings, nested structures).
    """
    if not details:
        return "{}"
    if len(details) > MAX_DETAIL_KEYS:
        raise ValueError("audit details: too many keys")
    clean: dict[str, DetailValue] = {}
    for key, value in details.items():
        if not _KEY.match(key):
            raise ValueError(f"audit details: invalid key {key!r}")
        if isinstance(value, uuid.UUID):
            value = str(value)
        if value is not None and not isinstance(value, str | int | bool):
            raise ValueError(f"audit details: {key} must be a string, number, flag or null")
        if isinstance(value, str) and len(value) > MAX_DETAIL_STRING:
            raise ValueError(f"audit details: {key} is too long to be an id or a name")
        clean[key] = value
    return json.dumps(clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _id(value: uuid.UUID | str | None) -> str | None:
    return None if value is None else str(value).lower()


def compute_hash(
    *,
    seq: int,
    created_at: datetime,
    action: str,
    actor_kind: str,
    actor_id: uuid.UUID | str | None,
    case_id: uuid.UUID | str | None,
    target: str | None,
    details: str,
    prev_hash: str,
) -> str:
    payload = [
        VERSION_TAG, seq, format_time(created_at), action, actor_kind, _id(actor_id),
        _id(case_id), target, details, prev_hash,
    ]
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(data).hexdigest()
