"""The Argon2 cap is the host's: several processes (here, gates that share only Redis, as
two API processes do) never run more than ``max_concurrent_argon2`` hashes together,
higher priorities go first across processes, a slot held by a dead process comes back
when its hold expires, and without Redis one process counts alone."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import anyio.to_thread
import pytest
from redis import Redis

from api.core.settings import Settings
from api.core.shared import Pool
from api.ingress import argon2
from api.ingress.argon2 import Argon2Gate, Priority, Ticket, gate_for, run_argon2
from tests.conftest import REDIS_URL, SharedRedis

HOST = "host-a"


def gate(prefix: str | None, capacity: int) -> Argon2Gate:
    """One process's gate: its own Redis client and memory, as in a process of its own."""
    redis = Redis.from_url(REDIS_URL) if prefix is not None else None
    pool = Pool(redis, prefix or "dokaz:", "argon2", ttl=argon2.HOLD_TTL,
                shared_keys=Argon2Gate.shared_keys(HOST))
    one = Argon2Gate(pool, HOST, capacity, poll=0.005)
    one.executor = ThreadPoolExecutor(max_workers=capacity)  # a process's own threads
    return one


class Meter:
    """Counts the hashes running at once, and the order they started in."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = self.peak = 0
        self.started: list[str] = []

    def work(self, name: str, seconds: float = 0.03) -> Callable[[], None]:
        def run() -> None:
            with self.lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
                self.started.append(name)
            time.sleep(seconds)
            with self.lock:
                self.running -= 1
        return run


def test_two_processes_share_one_host_cap(shared_redis: SharedRedis) -> None:
    meter = Meter()
    one, two = gate(shared_redis.prefix, 2), gate(shared_redis.prefix, 2)

    async def main() -> None:
        await asyncio.gather(*(g.run(Priority.RECEIPT, meter.work(f"{i}"))
                               for i, g in enumerate([one, two] * 6)))

    asyncio.run(main())
    # Per process, each gate alone would have let 2 run: 4 at once.
    assert meter.peak == 2 and len(meter.started) == 12
    assert one.pool.total(f"{HOST}:run") == 0  # every slot given back


def test_staff_then_receipts_then_checks_across_processes(shared_redis: SharedRedis) -> None:
    meter = Meter()
    public, staff = gate(shared_redis.prefix, 1), gate(shared_redis.prefix, 1)

    async def main() -> None:
        first = asyncio.create_task(public.run(Priority.RECEIPT, meter.work("busy", 0.2)))
        await asyncio.sleep(0.05)
        waiting = [asyncio.create_task(public.run(Priority.CHECK, meter.work("check")))]
        await asyncio.sleep(0.01)
        waiting.append(asyncio.create_task(public.run(Priority.RECEIPT,
                                                      meter.work("receipt"))))
        await asyncio.sleep(0.01)
        # Another process's sign-in, queued last, goes first: the public process sees it
        # announced in Redis and takes no slot while it waits.
        waiting.append(asyncio.create_task(staff.run(Priority.STAFF, meter.work("staff"))))
        await asyncio.gather(first, *waiting)

    asyncio.run(main())
    assert meter.started == ["busy", "staff", "receipt", "check"]
    assert meter.peak == 1


def test_a_dead_process_slot_comes_back_when_its_hold_expires(
        shared_redis: SharedRedis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(argon2, "HOLD_TTL", 0.3)
    dead, alive = gate(shared_redis.prefix, 1), gate(shared_redis.prefix, 1)
    # A process killed mid-hash: its hold is never released nor renewed.
    assert dead.pool.take(f"{HOST}:run", 1, 1) is not None
    meter = Meter()
    begun = time.monotonic()
    asyncio.run(alive.run(Priority.RECEIPT, meter.work("after")))
    assert meter.started == ["after"]
    assert 0.2 < time.monotonic() - begun < 3


def test_a_long_hash_keeps_its_slot(shared_redis: SharedRedis,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A hash that outlasts the hold's TTL renews it: no second one starts meanwhile."""
    monkeypatch.setattr(argon2, "HOLD_TTL", 0.15)
    meter = Meter()
    one, two = gate(shared_redis.prefix, 1), gate(shared_redis.prefix, 1)

    async def main() -> None:
        await asyncio.gather(one.run(Priority.RECEIPT, meter.work("long", 0.5)),
                             two.run(Priority.RECEIPT, meter.work("next", 0.01)))

    asyncio.run(main())
    assert meter.peak == 1


def test_a_cancelled_waiter_leaves_the_line() -> None:
    meter = Meter()
    alone = gate(None, 1)

    async def main() -> None:
        first = asyncio.create_task(alone.run(Priority.RECEIPT, meter.work("a", 0.1)))
        await asyncio.sleep(0.01)
        gone = asyncio.create_task(alone.run(Priority.STAFF, meter.work("gone")))
        later = asyncio.create_task(alone.run(Priority.CHECK, meter.work("later")))
        await asyncio.sleep(0.01)
        gone.cancel()  # the client went away while it waited
        await asyncio.gather(first, later)
        assert alone.waiting == 0

    asyncio.run(main())
    assert meter.started == ["a", "later"]


def test_without_redis_the_cap_is_this_process_and_waiting_takes_no_thread() -> None:
    settings = Settings(kdf_profile="fast-insecure-for-tests", max_concurrent_argon2=2)
    meter = Meter()

    async def main() -> int:
        tasks = [asyncio.create_task(run_argon2(settings, meter.work(str(i))))
                 for i in range(6)]
        await asyncio.sleep(0.01)
        busy = int(anyio.to_thread.current_default_thread_limiter().borrowed_tokens)
        assert gate_for(settings).waiting == 4
        await asyncio.gather(*tasks)
        return busy

    assert asyncio.run(main()) == 0
    assert meter.peak == 2


def test_the_default_leaves_a_core_for_everything_else(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})
    assert Settings().resolved_max_concurrent_argon2 == 1
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})
    assert Settings().resolved_max_concurrent_argon2 == 1
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(8)))
    assert Settings().resolved_max_concurrent_argon2 == 7
    assert Settings(max_concurrent_argon2=3).resolved_max_concurrent_argon2 == 3


def test_hashes_run_niced_in_threads_of_their_own() -> None:
    """So the scheduler serves the staff surface's requests before a hash."""
    settings = Settings(kdf_profile="fast-insecure-for-tests", argon2_nice=7)

    def where() -> tuple[str, int]:
        me = threading.get_native_id()
        return threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, me)

    name, nice = asyncio.run(run_argon2(settings, where))
    assert name.startswith("argon2")
    assert nice == min(19, os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + 7)


def test_an_early_receipt_waits_behind_everyone_until_it_is_hurried() -> None:
    """A receipt started while its body streams takes only a slot nobody else wants;
    once its last byte is in it is a receipt, in line from then on."""
    for hurried, order in ((False, ["busy", "receipt", "check", "early"]),
                           (True, ["busy", "receipt", "early", "check"])):
        meter = Meter()
        alone = gate(None, 1)

        async def main(hurried: bool = hurried, meter: Meter = meter,
                       alone: Argon2Gate = alone) -> None:
            busy = asyncio.create_task(alone.run(Priority.RECEIPT, meter.work("busy", 0.1)))
            await asyncio.sleep(0.01)
            early = Ticket(alone, Priority.EARLY, meter.work("early"), ())
            await asyncio.sleep(0.01)
            receipt = asyncio.create_task(alone.run(Priority.RECEIPT, meter.work("receipt")))
            await asyncio.sleep(0.01)
            check = asyncio.create_task(alone.run(Priority.CHECK, meter.work("check")))
            await asyncio.sleep(0.01)
            if hurried:
                early.hurry(Priority.RECEIPT)  # the last byte is in
            await asyncio.gather(busy, receipt, check, early.task)

        asyncio.run(main())
        assert meter.started == order, hurried


def test_a_withdrawn_ticket_never_hashes_but_a_begun_one_finishes() -> None:
    meter = Meter()
    alone = gate(None, 1)

    async def main() -> None:
        begun = Ticket(alone, Priority.EARLY, meter.work("begun", 0.1), ())
        await asyncio.sleep(0.02)
        waiting = Ticket(alone, Priority.EARLY, meter.work("never"), ())
        await asyncio.sleep(0.01)
        waiting.cancel()  # the request failed before its last byte
        begun.cancel()  # too late: it runs to its end, and frees its slot only then
        await begun.task
        assert waiting.task.cancelled() and alone.waiting == 0

    asyncio.run(main())
    assert meter.started == ["begun"]


def test_a_ticket_hurried_before_its_task_runs_is_hurried() -> None:
    """A small body is in before the ticket's task first runs: the hurry still counts."""
    meter = Meter()
    alone = gate(None, 1)

    async def main() -> None:
        busy = asyncio.create_task(alone.run(Priority.RECEIPT, meter.work("busy", 0.1)))
        await asyncio.sleep(0.01)
        check = asyncio.create_task(alone.run(Priority.CHECK, meter.work("check")))
        await asyncio.sleep(0.01)
        ticket = Ticket(alone, Priority.EARLY, meter.work("receipt"), ())
        ticket.hurry(Priority.RECEIPT)  # no await in between
        await asyncio.gather(busy, check, ticket.task)

    asyncio.run(main())
    assert meter.started == ["busy", "receipt", "check"]


def test_a_ticket_cancelled_before_its_task_runs_leaves_the_line() -> None:
    meter = Meter()
    alone = gate(None, 1)

    async def main() -> None:
        ticket = Ticket(alone, Priority.EARLY, meter.work("never"), ())
        ticket.cancel()
        await asyncio.sleep(0.01)
        assert alone.waiting == 0
        await alone.run(Priority.RECEIPT, meter.work("next"))

    asyncio.run(main())
    assert meter.started == ["next"]
