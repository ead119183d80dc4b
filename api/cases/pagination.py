"""Opaque keyset cursors for the case list.

A cursor is ``base64url(JSON [sort, direction, last sort value, last id])``. The next page
is "rows after (value, id) in this order", which an index on ``(sort column, id)`` serves
without counting or skipping rows, however deep the page. A cursor only moves the window:
access scoping and filters are applied on every page, so a forged cursor reveals nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from api.core.errors import BadRequest

SORT_KINDS = {"received_on": "date", "priority": "int", "urgency": "bool",
              "state_changed_at": "datetime", "due": "datetime"}


@dataclass(frozen=True)
class Cursor:
    sort: str
    descending: bool
    value: date | datetime | int | bool | None
    id: uuid.UUID


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def encode(cursor: Cursor) -> str:
    raw = json.dumps([cursor.sort, "desc" if cursor.descending else "asc",
                      _encode_value(cursor.value), str(cursor.id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(text: str, sort: str, descending: bool) -> Cursor:
    bad = BadRequest("The cursor is not valid for this list; start again without it.")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        s, direction, value, ident = json.loads(raw)
        ident = uuid.UUID(ident)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise bad from None
    if s != sort or direction != ("desc" if descending else "asc"):
        raise BadRequest("The cursor belongs to a different sort order; start again without it.")
    kind = SORT_KINDS[sort]
    try:
        if value is None:
            parsed: date | datetime | int | bool | None = None
        elif kind == "date":
            parsed = date.fromisoformat(value)
        elif kind == "datetime":
            parsed = datetime.fromisoformat(value)
        elif kind == "bool":
            if not isinstance(value, bool):
                raise TypeError
            parsed = value
        else:
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError
            parsed = value
    except (ValueError, TypeError):
        raise bad from None
    if parsed is None and sort != "due":
        raise bad
    return Cursor(sort, descending, parsed, ident)
