"""Rendered partner pulls (JSON, CSV, SVG bytes), cached in process.

A pull used to render its answer from the stored release every time: load the grid, add
up the cells, label every code in the partner's language, serialise. Partners pull the
same few views again and again (dashboards, scripts on a timer), so the bytes are kept.

Why caching is safe here, and why in process is enough:

* A release never changes once stored: a refresh writes a *new* release with a new id,
  and pulls always answer from the latest one. An entry is keyed by the release id, so
  when a new release appears every later pull looks up a new key; entries of the old
  release are never served again and age out of the LRU. Nothing needs invalidating, so
  there is nothing to keep consistent between processes: each API process keeps its own
  copy, and nothing rendered goes to Redis or to disk.
* The key also holds the partner, the table, the parsed query (dimensions kept and the
  filters, normalised by ``service.parse_query``), the format and the language. A partner
  is only ever served bytes rendered for that same partner, even though suppressed views
  are the same for everyone today: a later per-partner restriction cannot leak through it.
* Only suppressed-mode pulls are cached. A differentially private pull is charged to the
  partner's budget and recorded in the ledger, so it is always answered afresh.
* Bounded by ``DOKAZ_STATS_PULL_CACHE_MIB`` of bodies (0 turns it off); an entry larger
  than the whole bound is not kept.

Cached or not, a pull is rate limited and audited the same way (``operations.pull``).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from api.core.settings import MiB


@dataclass(frozen=True)
class RenderedPull:
    """A pull's response body and what its audit record says about it."""

    body: bytes
    media_type: str
    mode: str
    cells: int
    suppressed: int
    charged: bool


@dataclass(frozen=True)
class PullKey:
    release_id: uuid.UUID
    partner_id: uuid.UUID
    table_id: str
    fmt: str
    lang: str
    keep: tuple[str, ...]
    filters: tuple[tuple[str, tuple[str, ...]], ...]


class PullCache:
    """An LRU of rendered pulls bounded by the total size of their bodies."""

    def __init__(self, max_mib: float) -> None:
        self.max_bytes = int(max_mib * MiB)
        self._entries: OrderedDict[PullKey, RenderedPull] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()  # API processes serve requests from a thread pool

    def get(self, key: PullKey) -> RenderedPull | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: PullKey, pull: RenderedPull) -> None:
        size = len(pull.body)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._entries[key] = pull
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.body)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
