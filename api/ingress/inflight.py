"""Bodies in flight: upload slots and disk reservations, held while the bytes arrive.

Why. Behind Tor every client is one address, so the server has to bound what many slow
bodies can hold at once. Found over Tor (issue 15): hundreds of idle tus PATCHes were all
accepted, each holding a connection and a file; five concurrent 150 MB PATCHes were all
let in because the free-disk floor was checked only when each started, and together
they left the disk 507 MiB below it. So two things are held for as long as a body
streams, and given back when its request ends, however it ends:

* **Upload slots.** A body that may carry files (a tus PATCH, a multipart body) takes a
  slot of its client's (``max_uploads_in_flight_per_client``: 429 beyond it) and one of
  everyone's (``max_uploads_in_flight``: 503 "temporarily unavailable"). The caps sit
  below the connection caps (api/core/server.py), so idle uploads cannot take the
  connections that /healthz and a report without files need.
* **A disk reservation.** Before a byte is written, the bytes the body can leave on disk
  (:func:`body_need`, :func:`patch_need`: ciphertext, padding, the filler of a finished
  upload's last part) are reserved against the free space minus the floor minus everybody else's
  reservations; a body that would cross the floor is refused 503 before anything is
  written. While bytes arrive the reservation shrinks by what arrived and, every
  :data:`RECHECK_BYTES`, is held against the free space again: if something else filled
  the disk, the body is stopped with 503 and nothing partial is kept (a tus PATCH keeps
  only what earlier PATCHes had acknowledged).

Both are :class:`api.core.shared.Pool` holds: in Redis when several processes serve (the
slots of a circuit, everyone's slots and the host's disk reservations; an address's slots
never leave this process), in memory otherwise. Each hold expires ``ttl`` after it was
last renewed, and bytes arriving renew it, so a killed process blocks nobody for long
(three rate windows, three minutes by default).

How much a reservation counts. A request reports what arrived every :data:`RECHECK_BYTES`
(not every chunk: that would be a Redis round trip per 64 KiB), so up to that much may be
on disk and still in its reservation. Each reservation therefore carries
:data:`MARGIN` on top, which a new request's admission counts and the re-check forgives:
the floor then holds for every admitted body whatever the timing of the reports. The
other way round, bytes reported as arrived may not be written yet (a tus PATCH encrypts
one batch while the next arrives): the reservation keeps :data:`UNWRITTEN` of them until
the request ends.

Why not a library. Semaphore and rate-limit libraries count requests, not bytes, key on
the client address (which must not be shared), and do not fall back to memory when Redis
fails; no library we know reserves disk against a floor across processes. What is needed
is a sum of expiring weights, a Lua script of a few lines (api/core/shared.py).
"""

from __future__ import annotations

import logging
import shutil
import socket
import time
from dataclasses import dataclass, field

from redis import Redis

from api.core.errors import DokazError, RateLimited, ServiceUnavailable
from api.core.settings import MiB, Settings
from api.core.shared import Hold, Pool
from api.ingress.files import RECORD_SIZE
from api.storage.base import BlobStorage
from crypto.padding import padded_size
from crypto.stream import ciphertext_size

log = logging.getLogger("dokaz.ingress")

# How often a body's progress is reported and the disk looked at again, in bytes.
RECHECK_BYTES = 4 * MiB
# Also renewed this often while bytes trickle in, so a slow phone keeps its holds.
RENEW_SECONDS = 10.0
# Everyone's upload slot is renewed (or found reclaimed) at most this often while bytes
# arrive: an idle holder is then told apart from a sender within a second or two.
SLOT_SECONDS = 1.0
# What a reservation carries on top of the body's bytes: the unreported progress, the
# record a stream writer still buffers, and the file headers, tags and sealed rows.
MARGIN = RECHECK_BYTES + 2 * RECORD_SIZE + 64 * 1024
# Bytes a body may have reported as arrived that are not on disk yet: a tus PATCH encrypts
# one batch in a thread while the next fills (api.uploads.service, two batches of four
# records). They still take space, so a reservation keeps them until they are written.
UNWRITTEN = 2 * 4 * RECORD_SIZE
EVERYONE = "all"  # the key of everyone's upload slots

SHORT_OF_SPACE = (
    "Submissions are temporarily unavailable: the server is short of space. Nothing "
    "from this request was saved; please try again in a little while."
)
BUSY = (
    "Uploads are temporarily unavailable: the server is receiving as many as it can at "
    "once. Nothing from this request was saved; please try again in a little while."
)
RECLAIMED = (
    "This upload paused for a long time while the server was busy, so its place was given "
    "to someone else. What arrived before is kept: resume the upload to send the rest."
)
CLIENT_BUSY = (
    "You are already sending as many uploads as one person may at once. Wait until one "
    "of them has finished, then send this one; nothing from this request was saved."
)


class DiskFull(ServiceUnavailable):
    default_message = SHORT_OF_SPACE


class UploadsBusy(ServiceUnavailable):
    default_message = BUSY


def body_need(settings: Settings, declared: int) -> int:
    """The most a body of ``declared`` bytes can leave on disk, as ciphertext.

    Each file is padded to its Padmé bucket (under 12 % more, at least 512 bytes,
    crypto/padding.py) and sealed in records with a header and a tag each; the
    submission's own fields are sealed and padded likewise. An eighth on top covers the
    padding; a KiB per possible file the headers, floors and trailers.
    """
    files = settings.max_files_per_submission + 2  # the files, the fields, the thread
    return declared + declared // 8 + files * 1024


def patch_need(length: int, offset: int, content_length: int | None) -> int:
    """What a tus PATCH can leave on disk: its part, and if it may complete the upload the
    filler that pads the parts to the whole file's bucket (api.uploads.service.filler_size:
    at most padded_size(length) - length). Nothing is merged: no second copy."""
    remaining = max(0, length - offset)
    sent = remaining if content_length is None else min(content_length, remaining)
    if offset + sent >= length:
        sent += padded_size(length) - length
    return ciphertext_size(sent, RECORD_SIZE)


def free_bytes(settings: Settings, storage: BlobStorage) -> int:
    """Free space where this request writes: the data directory and the blob backend."""
    free = [shutil.disk_usage(settings.data_dir).free]
    backend = storage.free_bytes()
    if backend is not None:
        free.append(backend)
    return min(free)


@dataclass
class InFlight:
    """The pools of one app (built once, in :meth:`api.ingress.guards.Guards.from_settings`)."""

    slots: Pool
    disk: Pool
    disk_key: str  # one pool per host: processes on it share its disk

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis | None) -> InFlight:
        # Renewed every RENEW_SECONDS while bytes arrive; a body may pause for up to about
        # two rate windows before it fails (408), and a killed process's holds go after this.
        ttl = max(60.0, 3 * settings.body_rate_window_seconds)
        disk_key = "host:" + socket.gethostname()
        return cls(
            slots=Pool(redis, settings.redis_key_prefix, "uploads", ttl,
                       shared_keys=frozenset({EVERYONE})),
            disk=Pool(redis, settings.redis_key_prefix, "disk", ttl,
                      shared_keys=frozenset({disk_key})),
            disk_key=disk_key,
        )

    def check_room(self, settings: Settings, storage: BlobStorage, need: int) -> None:
        """503 unless ``need`` more bytes fit above the floor beside every reservation
        (for a tus creation, which sends its bytes later)."""
        room = free_bytes(settings, storage) - settings.min_free_disk_bytes
        if need > room - self.disk.total(self.disk_key):
            raise DiskFull(retry_after=600)


@dataclass
class Held:
    """What one request holds while its body streams; :meth:`release` gives it all back."""

    inflight: InFlight
    settings: Settings
    storage: BlobStorage | None = None
    holds: list[tuple[Pool, Hold]] = field(default_factory=list)
    reservation: Hold | None = None
    need: int = 0  # the bytes reserved, without the margin
    reported: int = 0  # bytes that arrived (or were written) and were reported
    everyone: Hold | None = None  # the slot of everyone's this body holds
    _pending: int = 0
    _renewed_at: float = 0.0
    _slot_renewed_at: float = 0.0
    _slot_bytes: int = 0  # bytes since everyone's slot was last renewed
    _slot_checked_at: float = 0.0
    _slot_started: bool = False  # renewed at its first bytes: no longer reclaimable at once

    def take_slots(self, client: str | None, *, reclaimable: bool = False) -> None:
        """A slot of ``client``'s (429 when it has all of its own) and one of everyone's
        (503). No client identity, no per-client slot: only everyone's applies.

        When everyone's are all taken, the slots of bodies that kept below the minimum
        body rate for ``upload_idle_seconds`` are reclaimed for this body: an idle
        connection costs an attacker nothing, so without this a crowd of idle circuits
        would hold every slot and turn away the people sending bytes. A ``reclaimable``
        body (a tus PATCH, whose client resumes where it stopped) can lose its slot so;
        any other (a report form's, which would have to be sent again) only after
        :data:`api.core.shared.SLOWLY_FACTOR` times as long."""
        slots, settings = self.inflight.slots, self.settings
        if client is not None:
            mine = slots.take(client, 1, settings.max_uploads_in_flight_per_client)
            if mine is None:
                raise _closing(RateLimited(30, CLIENT_BUSY))
            self.holds.append((slots, mine))
        everyone = slots.take(EVERYONE, 1, settings.max_uploads_in_flight,
                              evictable=True if reclaimable else "slowly",
                              idle_after=settings.upload_idle_seconds)
        if everyone is None:
            raise _closing(UploadsBusy(retry_after=60))
        self.everyone = everyone
        self._renewed_at = self._slot_renewed_at = self._slot_checked_at = time.monotonic()

    def reserve(self, storage: BlobStorage, need: int) -> None:
        """Reserve ``need`` bytes (plus :data:`MARGIN`) above the floor; 503 if they do not
        fit beside everyone else's reservations."""
        self.storage = storage
        room = free_bytes(self.settings, storage) - self.settings.min_free_disk_bytes
        hold = self.inflight.disk.take(self.inflight.disk_key, need + MARGIN, room)
        if hold is None:
            raise _closing(DiskFull(retry_after=600))
        self.reservation, self.need = hold, need
        self._renewed_at = time.monotonic()

    def progress(self, n: int) -> None:
        """``n`` more bytes arrived (or were written); every :data:`RECHECK_BYTES`, and
        every :data:`RENEW_SECONDS` while bytes trickle, renew the holds and look at the
        disk again (503 if something else took the space this body reserved). Everyone's
        slot is looked at more often (:data:`SLOT_SECONDS`): renewed while the body keeps
        the minimum rate, and a body whose slot was reclaimed stops at once."""
        self._pending += n
        self._slot_bytes += n
        now = time.monotonic()
        if self.everyone is not None and (
                not self._slot_started or now - self._slot_checked_at >= SLOT_SECONDS):
            self._renew_everyone(now)
        if self._pending < RECHECK_BYTES and now - self._renewed_at < RENEW_SECONDS:
            return
        self.renew()

    def renew(self) -> None:
        self.reported += self._pending
        self._pending = 0
        self._renewed_at = time.monotonic()
        for pool, hold in self.holds:
            pool.update(hold, 1)
        if self.reservation is None or self.storage is None:
            return
        left = max(0, self.need - self.reported)
        if left == 0 and self.need:
            # More arrived than was reserved (a body without a declared length): reserve
            # the next stretch, or stop before the floor is crossed.
            self._extend()
            left = self.need - self.reported
        left = min(self.need, left + UNWRITTEN)  # what arrived but is not yet written
        disk = self.inflight.disk
        held = disk.update(self.reservation, left + MARGIN)
        if held is None:
            return  # Redis could not say: weaker, but nobody is refused for it
        total, count = held
        # Each reservation's margin is forgiven here: it covers what was written and not
        # yet reported (see the module docstring), not bytes still to come.
        free = free_bytes(self.settings, self.storage)
        if free - self.settings.min_free_disk_bytes < total - count * MARGIN:
            raise _closing(DiskFull(retry_after=600))

    def body_received(self) -> None:
        """The whole body is in: give the upload slots back now. A slot bounds bodies that
        are streaming; what the server does next (sealing, merging, the receipt's Argon2)
        must neither keep a slot from someone sending, nor lose one for not reading."""
        slots = [(pool, hold) for pool, hold in self.holds if pool is self.inflight.slots]
        self.holds = [(pool, hold) for pool, hold in self.holds
                      if pool is not self.inflight.slots]
        if self.everyone is not None:
            slots.append((self.inflight.slots, self.everyone))
            self.everyone = None
        for pool, hold in slots:
            pool.release(hold)

    def reading(self) -> None:
        """The server waits for bytes from now: the body's silence counts from here, not
        from admission or the server's own work between chunks (api.core.shared.Pool)."""
        if self.everyone is not None:
            self.inflight.slots.touch(self.everyone)
            self._slot_checked_at = self._slot_renewed_at = time.monotonic()
            self._slot_bytes = 0
            self._slot_started = False  # the next bytes renew it at once

    def _renew_everyone(self, now: float) -> None:
        """Renew everyone's slot if the body kept the minimum rate since the last renewal;
        otherwise let it age, so it can be reclaimed. Stop if it was reclaimed."""
        if self.everyone is None:
            return
        settings = self.settings
        window, need = settings.body_rate_window_seconds, settings.min_body_bytes_per_window
        elapsed = now - self._slot_renewed_at
        self._slot_checked_at = now
        slots = self.inflight.slots
        if self._slot_started and need and self._slot_bytes < need * elapsed / window:
            # Behind the minimum rate: the slot ages (and may be reclaimed).
            still = slots.holds(self.everyone)
        else:
            self._slot_started = True
            self._slot_renewed_at, self._slot_bytes = now, 0
            still = slots.renew(self.everyone)
        if not still:
            self.everyone = None
            raise _closing(UploadsBusy(RECLAIMED, retry_after=30))

    def _extend(self) -> None:
        assert self.reservation is not None and self.storage is not None
        step = max(self.need, 16 * MiB)
        room = free_bytes(self.settings, self.storage) - self.settings.min_free_disk_bytes
        more = self.inflight.disk.take(self.inflight.disk_key, step, room)
        if more is None:
            raise _closing(DiskFull(retry_after=600))
        # One hold per request: fold the new stretch into it.
        self.inflight.disk.release(more)
        self.need += step

    def release(self) -> None:
        """Give every hold back (idempotent)."""
        if self.everyone is not None:
            self.holds.append((self.inflight.slots, self.everyone))
            self.everyone = None
        holds, self.holds = self.holds, []
        reservation, self.reservation = self.reservation, None
        for pool, hold in holds:
            pool.release(hold)
        if reservation is not None:
            self.inflight.disk.release(reservation)


def _closing(error: DokazError) -> DokazError:
    # The refused body is never read: closing the connection frees its file descriptor
    # at once instead of leaving the client to send the body into a kept-alive socket.
    error.headers["Connection"] = "close"
    return error
