"""Bodies in flight (api/ingress/inflight.py): upload slots and the disk reservation.

Found over Tor (issue 15): idle PATCHes were all accepted, and five concurrent 150 MB
PATCHes together went 507 MiB below the free-disk floor, which was looked at only when
each began. The disk tests put the data directory on a tmpfs (/dev/shm) when there is
one: its free space moves only with what the test writes, so a budget of a few MiB above
the floor is exact there, while the shared disk moves with everything else on the machine.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from redis import Redis

from api.core.server import fd_headroom, uvicorn_options
from api.core.settings import MiB, Settings
from api.core.shared import SILENT_GRACE, Pool
from api.ingress.files import RECORD_SIZE
from api.ingress.inflight import EVERYONE, MARGIN, body_need, patch_need
from api.services import services_of
from crypto.padding import padded_size
from crypto.stream import ciphertext_size
from tests.conftest import SharedRedis
from tests.intake.conftest import Intake
from tests.intake.helpers import PNG
from tests.quiet_disk import quiet_directory
from tests.uploads.test_tus import PATCH, TUS, create, offset

# ---- the pool ------------------------------------------------------------------------


@pytest.mark.parametrize("shared", ["memory", "redis"])
def test_a_pool_holds_weights_against_a_capacity(shared_redis: SharedRedis,
                                                 shared: str) -> None:
    redis = shared_redis.client if shared == "redis" else None
    pool = Pool(redis, shared_redis.prefix, "p", ttl=60, shared_keys=frozenset({"k"}))
    first = pool.take("k", 6, capacity=10)
    assert first is not None and first.remote == (shared == "redis")
    assert pool.take("k", 5, capacity=10) is None  # 6 + 5 > 10
    second = pool.take("k", 4, capacity=10)
    assert second is not None and pool.total("k") == 10
    assert pool.update(first, 1) == (5, 2)  # re-weighed: room again
    assert pool.take("k", 5, capacity=10) is not None
    pool.release(first)
    pool.release(second)
    assert pool.total("k") == 5


def test_a_killed_process_s_holds_expire(shared_redis: SharedRedis) -> None:
    # Two "processes" share Redis; the first takes the only slot and dies without
    # giving it back. The second is refused only until the hold's time runs out.
    one, two = (Pool(shared_redis.client, shared_redis.prefix, "p", ttl=0.3,
                     shared_keys=frozenset({"all"})) for _ in range(2))
    assert one.take("all", 1, capacity=1) is not None
    assert two.take("all", 1, capacity=1) is None
    time.sleep(0.4)
    assert two.take("all", 1, capacity=1) is not None


def test_circuit_slots_are_shared_and_address_slots_never_leave_the_process(
        shared_redis: SharedRedis) -> None:
    client, prefix = shared_redis.client, shared_redis.prefix
    one, two = (Pool(client, prefix, "uploads", ttl=60) for _ in range(2))
    assert one.take("c:circuit", 1, capacity=1) is not None
    assert two.take("c:circuit", 1, capacity=1) is None  # the same circuit elsewhere
    assert one.take("a:address", 1, capacity=1) is not None
    assert two.take("a:address", 1, capacity=1) is not None  # per process only
    # (After the prefix: a random prefix may itself end in "a:".)
    keys = [key[len(prefix):] for key in client.scan_iter(match=prefix + "*")]
    assert keys and not any(b"a:address" in key for key in keys)


def test_without_redis_holds_are_counted_in_memory() -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2,
                          socket_connect_timeout=0.2)
    pool = Pool(down, "dokaz:", "p", ttl=60, shared_keys=frozenset({"all"}))
    hold = pool.take("all", 1, capacity=1)  # no exception: nobody is refused for Redis
    assert hold is not None and not hold.remote
    assert pool.take("all", 1, capacity=1) is None


# ---- what a body may leave on disk -----------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 511, 4096, 300_000, 8 * MiB + 1, 150_000_000])
def test_a_reservation_covers_the_ciphertext(size: int, settings: Any) -> None:
    assert ciphertext_size(size, RECORD_SIZE) <= body_need(settings, size)
    # A PATCH that completes its upload reserves its part with the filler that pads the
    # parts to the file's bucket: one file's worth, no merged copy any more.
    assert patch_need(size, 0, None) == ciphertext_size(size, RECORD_SIZE)
    half = size // 2
    if half < size:
        assert patch_need(size, 0, half) == ciphertext_size(half, RECORD_SIZE)
        rest = padded_size(size) - half  # the last part: its bytes and the filler
        assert patch_need(size, half, None) == ciphertext_size(rest, RECORD_SIZE)


# ---- through the doors -----------------------------------------------------------------


@pytest.fixture
def quiet_dir(tmp_path: Path) -> Iterator[Path]:
    """The data directory of the first ``intake_with`` app (``tmp_path/data0``), on a
    filesystem nothing else writes to meanwhile (tests/quiet_disk.py)."""
    with quiet_directory("dokaz-inflight-") as path:
        (tmp_path / "data0").symlink_to(path, target_is_directory=True)
        yield path


def budget(path: Path, room: int) -> dict[str, Any]:
    """Settings whose floor leaves ``room`` bytes above it on ``path``'s filesystem."""
    return {"min_free_disk_bytes": shutil.disk_usage(path).free - room}


async def _slow(data: bytes, started: asyncio.Event, go_on: asyncio.Event,
                step: int = 64 * 1024) -> AsyncIterator[bytes]:
    yield data[:step]
    started.set()
    await go_on.wait()
    for i in range(step, len(data), step):
        yield data[i:i + step]


async def _while_one_streams(app: Any, url: str, data: bytes,
                             then: Callable[[httpx.AsyncClient], Any]) -> tuple[int, Any]:
    """PATCH ``data`` to ``url`` slowly; while it streams, run ``then``."""
    started, go_on = asyncio.Event(), asyncio.Event()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://onion") as client:
        first = asyncio.create_task(client.patch(
            url, content=_slow(data, started, go_on),
            headers={**PATCH, "Upload-Offset": "0", "Content-Length": str(len(data))}))
        await started.wait()
        try:
            during = await then(client)
        finally:
            go_on.set()
        done = await first
    return done.status_code, during


def held(intake: Intake) -> tuple[int, int]:
    """(upload slots, reserved bytes) everyone holds now."""
    inflight = services_of(intake.client.app).intake_guards.inflight
    return inflight.slots.total(EVERYONE), inflight.disk.total(inflight.disk_key)


FILE = PNG + os.urandom(512 * 1024)


def test_a_client_streams_at_most_its_uploads_at_once(
        intake_with: Callable[..., Intake]) -> None:
    app = intake_with(max_uploads_in_flight_per_client=1)
    one, two = (create(app.client, len(FILE), filename="a.png") for _ in range(2))

    async def second(client: httpx.AsyncClient) -> httpx.Response:
        return await client.patch(two, content=FILE, headers={**PATCH, "Upload-Offset": "0"})

    first, refused = asyncio.run(_while_one_streams(app.client.app, one, FILE, second))
    assert first == 204
    assert refused.status_code == 429, refused.text
    assert "already sending as many uploads" in refused.json()["error"]["message"]
    assert refused.headers["Retry-After"] and refused.headers["Connection"] == "close"
    assert offset(app.client, two) == 0 and held(app) == (0, 0)
    ok = app.client.patch(two, content=FILE, headers={**PATCH, "Upload-Offset": "0"})
    assert ok.status_code == 204, ok.text


def test_everyone_s_uploads_are_capped_with_503(intake_with: Callable[..., Intake]) -> None:
    app = intake_with(max_uploads_in_flight=1)
    one = create(app.client, len(FILE), filename="a.png")

    async def report_with_a_file(client: httpx.AsyncClient) -> httpx.Response:
        from tests.intake.helpers import form, report

        body, ctype = form(report(), [("scan.png", "image/png", PNG)])
        return await client.post("/api/v1/submissions", content=body,
                                 headers={"Content-Type": ctype})

    first, refused = asyncio.run(_while_one_streams(app.client.app, one, FILE,
                                                    report_with_a_file))
    assert first == 204
    assert refused.status_code == 503, refused.text
    assert "temporarily unavailable" in refused.json()["error"]["message"]
    assert refused.headers["Retry-After"]
    assert held(app) == (0, 0)


def test_a_patch_that_would_cross_the_floor_is_refused_before_writing(
        intake_with: Callable[..., Intake], quiet_dir: Path) -> None:
    size = 2 * MiB
    one_patch = patch_need(size, 0, None) + MARGIN
    app = intake_with(**budget(quiet_dir, int(one_patch * 1.5)))
    data = PNG + os.urandom(size - len(PNG))
    one, two = (create(app.client, size, filename="a.png") for _ in range(2))

    def blobs() -> list[str]:
        return sorted(b.name for b in app.storage.iter_blobs())

    async def second(client: httpx.AsyncClient) -> httpx.Response:
        before = blobs()
        refused = await client.patch(two, content=data,
                                     headers={**PATCH, "Upload-Offset": "0"})
        assert blobs() == before  # refused before a byte was written
        return refused

    first, refused = asyncio.run(_while_one_streams(app.client.app, one, data, second))
    assert first == 204 and offset(app.client, one) == size
    assert refused.status_code == 503, refused.text
    assert "short of space" in refused.json()["error"]["message"]
    assert offset(app.client, two) == 0 and held(app) == (0, 0)
    # Once the first is done its reservation is gone: the second fits now.
    ok = app.client.patch(two, content=data, headers={**PATCH, "Upload-Offset": "0"})
    assert ok.status_code == 204, ok.text


def test_a_body_is_stopped_when_something_else_fills_the_disk(
        intake_with: Callable[..., Intake], quiet_dir: Path) -> None:
    size = 12 * MiB
    need = patch_need(size, 0, None) + MARGIN
    app = intake_with(**budget(quiet_dir, need + 2 * MiB))
    url = create(app.client, size, filename="a.png")
    data = PNG + os.urandom(size - len(PNG))
    filler = quiet_dir / "something-else"

    async def body() -> AsyncIterator[bytes]:
        for i in range(0, size, MiB):
            if i == 2 * MiB:  # another program takes the space this body reserved
                filler.write_bytes(bytes(8 * MiB))
            yield data[i:i + MiB]

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://onion") as client:
            return await client.patch(url, content=body(), headers={
                **PATCH, "Upload-Offset": "0", "Content-Length": str(size)})

    stopped = asyncio.run(send())
    assert stopped.status_code == 503, stopped.text
    assert "short of space" in stopped.json()["error"]["message"]
    # Nothing partial is kept: the offset is where it was, no segment is left behind.
    assert offset(app.client, url) == 0
    assert not [b for b in app.storage.iter_blobs() if b.name.startswith("s/")]
    assert held(app) == (0, 0)
    filler.unlink()


def test_a_tus_creation_needs_room_for_the_file_but_no_second_copy(
        intake_with: Callable[..., Intake], quiet_dir: Path) -> None:
    size = 4 * MiB
    app = intake_with(**budget(quiet_dir, int(1.5 * ciphertext_size(size, RECORD_SIZE))))
    # Room for the file once (as parts) is enough: finishing no longer writes a merged copy.
    assert create(app.client, size, filename="a.png")
    r = app.client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": str(3 * size)})
    assert r.status_code == 503, r.text


def test_a_dropped_body_gives_its_holds_back(intake_with: Callable[..., Intake]) -> None:
    app = intake_with()
    url = create(app.client, len(FILE), filename="a.png")

    async def drop() -> None:
        started, go_on = asyncio.Event(), asyncio.Event()
        transport = httpx.ASGITransport(app=app.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://onion") as client:
            task = asyncio.create_task(client.patch(
                url, content=_slow(FILE, started, go_on),
                headers={**PATCH, "Upload-Offset": "0", "Content-Length": str(len(FILE))}))
            await started.wait()
            assert held(app)[0] == 1 and held(app)[1] > 0  # held while it streams
            task.cancel()  # the client goes away mid-body
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(drop())
    assert held(app) == (0, 0)


# ---- the caps nest, and the descriptors behind them ----------------------------------


def test_the_upload_caps_must_leave_connections_over() -> None:
    with pytest.raises(ValidationError, match="below DOKAZ_MAX_CONNECTIONS"):
        Settings(max_connections=64, max_uploads_in_flight=64)
    with pytest.raises(ValidationError, match="DOKAZ_MAX_CONNECTIONS_PER_CLIENT"):
        Settings(max_connections_per_client=6, max_uploads_in_flight_per_client=6)


def test_serving_lifts_the_soft_descriptor_limit_to_what_the_caps_need() -> None:
    settings = Settings(max_connections=300, max_uploads_in_flight=40)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = fd_headroom(settings)
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"the hard descriptor limit ({hard}) is below {need}")
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need - 100, hard))
        uvicorn_options(settings, "proxy-protocol")
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (need, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# ---- idle slots are reclaimed ----------------------------------------------------------


@pytest.mark.parametrize("shared", ["memory", "redis"])
def test_idle_evictable_holds_make_room_for_a_newcomer(shared_redis: SharedRedis,
                                                       shared: str) -> None:
    redis = shared_redis.client if shared == "redis" else None
    pool = Pool(redis, shared_redis.prefix, "idle", ttl=60, shared_keys=frozenset({"all"}))
    kept = pool.take("all", 1, capacity=2)  # never reclaimed
    idle = pool.take("all", 1, capacity=2, evictable=True)
    assert kept is not None and idle is not None
    assert pool.renew(idle)  # its first bytes: now protected for idle_after
    # Full, and nothing has been idle long enough yet.
    assert pool.take("all", 1, capacity=2, idle_after=0.3) is None
    time.sleep(0.4)
    newcomer = pool.take("all", 1, capacity=2, idle_after=0.3)
    assert newcomer is not None and pool.total("all") == 2
    assert pool.renew(idle) is False  # its holder learns it lost the slot
    assert pool.renew(kept) is True and pool.renew(newcomer) is True
    # The non-evictable hold, idle as long, is never taken.
    time.sleep(0.4)
    assert pool.take("all", 1, capacity=2, idle_after=0.3) is None
    for hold in (kept, newcomer):
        pool.release(hold)


@pytest.mark.parametrize("shared", ["memory", "redis"])
def test_a_form_body_is_reclaimed_only_after_four_times_as_long(
        shared_redis: SharedRedis, shared: str) -> None:
    redis = shared_redis.client if shared == "redis" else None
    pool = Pool(redis, shared_redis.prefix, "form", ttl=60, shared_keys=frozenset({"all"}))
    form = pool.take("all", 1, capacity=1, evictable="slowly")
    assert form is not None and pool.renew(form)
    time.sleep(0.3)
    assert pool.take("all", 1, capacity=1, idle_after=0.2) is None  # 1.5x: kept
    time.sleep(0.6)
    assert pool.take("all", 1, capacity=1, idle_after=0.2) is not None  # 4.5x: reclaimed
    assert pool.renew(form) is False


@pytest.mark.parametrize("shared", ["memory", "redis"])
def test_holds_that_never_started_go_first(shared_redis: SharedRedis,
                                                       shared: str) -> None:
    """A burst of connections that send nothing cannot fill the pool against a sender:
    a hold that never started (no bytes) is reclaimed after a second's grace, before any
    idle one."""
    redis = shared_redis.client if shared == "redis" else None
    pool = Pool(redis, shared_redis.prefix, "burst", ttl=60, shared_keys=frozenset({"all"}))
    sender = pool.take("all", 1, capacity=2, evictable=True)
    silent = pool.take("all", 1, capacity=2, evictable=True)
    assert sender is not None and silent is not None
    time.sleep(SILENT_GRACE + 0.2)
    # Not read from yet (the server's own time): neither is silent.
    assert pool.take("all", 1, capacity=2, idle_after=30) is None
    pool.touch(sender)
    pool.touch(silent)  # the server now waits for both
    assert pool.renew(sender)  # the sender's bytes arrive
    # Within its grace (the server's own delays before it reads) a silent hold is kept.
    assert pool.take("all", 1, capacity=2, idle_after=30) is None
    time.sleep(SILENT_GRACE + 0.2)
    newcomer = pool.take("all", 1, capacity=2, idle_after=30)
    assert newcomer is not None
    assert pool.renew(silent) is False and pool.renew(sender) is True
    # Nothing left that never started, and nothing idle for 30 s: full.
    assert pool.take("all", 1, capacity=2, idle_after=30) is None
    for hold in (sender, newcomer):
        pool.release(hold)


@pytest.mark.parametrize("shared", ["memory", "redis"])
def test_a_renewed_hold_is_not_idle(shared_redis: SharedRedis, shared: str) -> None:
    redis = shared_redis.client if shared == "redis" else None
    pool = Pool(redis, shared_redis.prefix, "busy", ttl=60, shared_keys=frozenset({"all"}))
    busy = pool.take("all", 1, capacity=1, evictable=True)
    assert busy is not None and pool.renew(busy)
    for _ in range(3):
        time.sleep(0.15)
        assert pool.renew(busy)
    assert pool.take("all", 1, capacity=1, idle_after=0.3) is None
    pool.release(busy)


def test_an_idle_patch_gives_its_slot_to_one_that_sends(
        intake_with: Callable[..., Intake]) -> None:
    """The one slot is held by a PATCH that sends nothing; after ``upload_idle_seconds`` a
    PATCH that sends gets it and completes, and the idle one, when it finally sends, is
    told to resume (503, nothing of its own PATCH kept)."""
    app = intake_with(max_uploads_in_flight=1, upload_idle_seconds=0.5)
    idle_url, busy_url = (create(app.client, len(FILE), filename=n) for n in ("a.png", "b.png"))

    async def meanwhile(client: httpx.AsyncClient) -> httpx.Response:
        refused = await client.patch(busy_url, content=FILE,
                                     headers={**PATCH, "Upload-Offset": "0"})
        assert refused.status_code == 503, refused.text  # not idle long enough yet
        await asyncio.sleep(1.2)  # over the idle time, and over SLOT_SECONDS in all
        return await client.patch(busy_url, content=FILE,
                                  headers={**PATCH, "Upload-Offset": "0"})

    first, sent = asyncio.run(_while_one_streams(app.client.app, idle_url, FILE, meanwhile))
    assert sent.status_code == 204, sent.text
    assert offset(app.client, busy_url) == len(FILE)
    assert first == 503
    assert offset(app.client, idle_url) == 0
    assert held(app) == (0, 0)


def test_a_creation_with_bytes_holds_a_slot_and_reserves_them(
        intake_with: Callable[..., Intake]) -> None:
    # tus creation-with-upload: the POST's bytes are a body like a PATCH's, so they take
    # an upload slot and their part is reserved on disk while they arrive.
    app = intake_with()
    data = PNG + os.urandom(1024 * 1024)

    async def run() -> tuple[int, tuple[int, int]]:
        started, go_on = asyncio.Event(), asyncio.Event()
        transport = httpx.ASGITransport(app=app.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://onion") as client:
            first = asyncio.create_task(client.post(
                "/api/v1/uploads", content=_slow(data, started, go_on),
                headers={**PATCH, "Upload-Length": str(len(data)),
                         "Content-Length": str(len(data))}))
            await started.wait()
            during = held(app)
            go_on.set()
            done = await first
        return done.status_code, during

    status, during = asyncio.run(run())
    assert status == 201
    assert during[0] == 1 and during[1] >= patch_need(len(data), 0, len(data))
    assert held(app) == (0, 0)
