"""The Argon2id limiter: receipts are made and checked, and staff passwords verified, at
most ``max_concurrent_argon2`` at a time on the whole host, so a burst of submissions or
sign-ins can take neither every worker thread nor every core.

The cap is the host's, not a process's: with several API processes (``dokaz serve
--workers``) each 64 MiB hash competes for the same cores, and a per-process cap of 4 let
8 of them run on 2 cores, which slowed every staff request 10x. The default leaves one
core for everything else (``resolved_max_concurrent_argon2``).

Across processes the slots are holds in a :class:`api.core.shared.Pool` in Redis, keyed by
the host name (processes of several hosts may share one Redis; each host has its own
cores). A hold expires unless renewed while its hash runs, so a process killed mid-hash
leaks its slot for :data:`HOLD_TTL` seconds at most. Without Redis (the embedded default,
one process) the same pool counts in this process's memory; if Redis fails the pool falls
back to memory too, and the cap weakens to one per process for as long: nobody is refused
for it, as with every other shared limit. No host-local fallback (lock files in the data
directory): several processes without Redis is already an unsupported setup (the upload
slots and budgets would be per process too), and lock files would add a second mechanism
with its own failure modes (a data directory on a network file system) for that case only.

The hashes run in threads of their own, niced (``argon2_nice``): one hash with
parallelism 4 takes both cores of a small host, and only the scheduler can give a
caseworker's request the cores before it.

Waiting happens in the event loop, never in a pool thread: otherwise a burst of receipts
would occupy every worker thread and starve the encryption and database work of uploads
still streaming. Waiters are served by :class:`Priority`, then in arrival order; each
process polls for a slot for its first waiter only (a local release wakes it at once, a
release elsewhere is seen within ``argon2_poll_seconds``). A waiter of a higher priority
announces itself in its own pool (``wait:N``) for as long as it waits, and a lower one
takes no slot while any is announced, so the order holds across processes too (to within
one race between two round trips, which at worst lets one lower hash go first).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import functools
import itertools
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Generic, TypeVar

import anyio

from api.core.settings import Settings
from api.core.shared import Hold, Pool, redis_from_settings

T = TypeVar("T")

# A hold on a slot lives this long unless renewed (every third of it, while the hash runs).
HOLD_TTL = 6.0
# A waiter's announcement (wait:N) likewise: renewed while it waits.
WAIT_TTL = 3.0
_UNBOUNDED = 1 << 30


class Priority(IntEnum):
    """Who goes first when Argon2 slots are short (lower first)."""

    # A caseworker signing in (or changing a password): rare, globally budgeted, and the
    # person the system must answer during a surge.
    STAFF = 0
    # The receipt of a submission whose last byte is in: a person waits for it.
    RECEIPT = 1
    # A follow-up receipt check: a person waits for it, but it is guessable, so an
    # attacker can ask for many (each throttled); it must not delay the two above.
    CHECK = 2
    # A receipt computed ahead, while its submission's body still streams (a Tor upload
    # takes seconds to minutes): it uses a slot nobody above wants, and once the last
    # byte is in it becomes a RECEIPT (:meth:`Ticket.hurry`), queued from that moment.
    EARLY = 3
    # A receipt made for the stock (api/intake/service.py): for whoever comes next, so
    # only when nobody else wants a slot.
    SPARE = 4


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    wake: asyncio.Event = field(compare=False, default_factory=asyncio.Event)
    announced: Hold | None = field(compare=False, default=None)


class Argon2Gate:
    """The host's Argon2 slots as seen from one process (and one event loop)."""

    def __init__(self, pool: Pool, host: str, capacity: int, poll: float,
                 nice: int = 0) -> None:
        self.pool = pool
        self.capacity = capacity
        self.poll = poll
        self._run_key = f"{host}:run"
        self._wait_keys = [f"{host}:wait:{p.value}" for p in Priority]
        self._waiting: list[_Waiter] = []  # sorted: the first is the one that polls
        self._seq = itertools.count()
        self.executor = _executor(capacity, nice)

    @classmethod
    def shared_keys(cls, host: str) -> frozenset[str]:
        return frozenset({f"{host}:run", *(f"{host}:wait:{p.value}" for p in Priority)})

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _higher_waiting(self, priority: int) -> bool:
        """Whether a waiter of a higher priority (any process) is announced."""
        return any(self.pool.total(key) > 0 for key in self._wait_keys[:priority])

    def _try_take(self, waiter: _Waiter) -> Hold | None:
        if self._higher_waiting(waiter.priority):
            return None
        return self.pool.take(self._run_key, 1, self.capacity)

    def _announce(self, waiter: _Waiter) -> None:
        if waiter.priority == len(self._wait_keys) - 1:
            return  # nobody waits behind the lowest priority
        if waiter.announced is None or not self.pool.renew(waiter.announced):
            waiter.announced = self.pool.take(self._wait_keys[waiter.priority], 1, _UNBOUNDED)

    def _leave(self, waiter: _Waiter) -> None:
        if waiter not in self._waiting:
            return  # left already (a ticket's task cancelled before it began)
        self._waiting.remove(waiter)
        if waiter.announced is not None:
            self.pool.release(waiter.announced)
            waiter.announced = None
        if self._waiting:
            self._waiting[0].wake.set()

    def hurry(self, waiter: _Waiter, priority: Priority) -> None:
        """Raise a waiting ``waiter`` to ``priority``, in line from now (among its new
        peers it goes after those already waiting there)."""
        if waiter not in self._waiting or waiter.priority <= priority:
            return
        self._waiting.remove(waiter)
        if waiter.announced is not None:
            self.pool.release(waiter.announced)
            waiter.announced = None
        waiter.priority, waiter.seq = int(priority), next(self._seq)
        bisect.insort(self._waiting, waiter)
        self._waiting[0].wake.set()
        waiter.wake.set()

    def enqueue(self, priority: Priority) -> _Waiter:
        waiter = _Waiter(int(priority), next(self._seq))
        bisect.insort(self._waiting, waiter)
        return waiter

    async def acquire(self, waiter: _Waiter) -> Hold:
        announced_at = -WAIT_TTL
        loop = asyncio.get_running_loop()
        try:
            while True:
                if self._waiting[0] is waiter:
                    hold = self._try_take(waiter)
                    if hold is not None:
                        return hold
                if waiter.announced is None or loop.time() - announced_at >= WAIT_TTL / 3:
                    self._announce(waiter)
                    announced_at = loop.time()
                waiter.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wake.wait(), self.poll)
        finally:
            # Taken, cancelled (the client went away) or failed: the next one polls now.
            self._leave(waiter)

    def release(self, hold: Hold) -> None:
        self.pool.release(hold)
        if self._waiting:
            self._waiting[0].wake.set()

    async def run(self, priority: Priority, fn: Callable[..., T], *args: Any,
                  ticket: Ticket[T] | None = None) -> T:
        waiter = self.enqueue(priority) if ticket is None else ticket.waiter
        hold = await self.acquire(waiter)
        if ticket is not None:
            ticket.running = True
        try:
            # Shielded, as anyio's own threads are: once a hash runs it runs to its end, and
            # its slot is given back only then (a request cancelled meanwhile would
            # otherwise free the slot of a hash still taking the cores).
            with anyio.CancelScope(shield=True):
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(self._keep, hold)
                    try:
                        result = await asyncio.wrap_future(
                            self.executor.submit(functools.partial(fn, *args)))
                    finally:
                        tasks.cancel_scope.cancel()
            return result
        finally:
            self.release(hold)

    async def _keep(self, hold: Hold) -> None:
        """Renew the slot while its hash runs (a hash slowed by a busy host may outlast
        the TTL; the TTL is short so a dead process frees its slots soon)."""
        while True:
            await anyio.sleep(HOLD_TTL / 3)
            self.pool.renew(hold)


def _lower_priority(nice: int) -> None:
    """Run this thread (and the lanes Argon2 starts from it, which inherit its nice value
    on Linux) ``nice`` steps below the rest of the process. With parallelism 4 one hash
    takes every core of a small host for its quarter second; niced, the scheduler gives
    the staff surface's requests (and the uploads still streaming) the cores first, and
    the hash the time they leave, which is most of it."""
    if nice <= 0:
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the threads run as is
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid)
                                                 + nice))


@functools.cache
def _executor(capacity: int, nice: int) -> ThreadPoolExecutor:
    """The threads hashes run in: their own (never the default pool's, whose threads the
    event loop needs for database work), as many as may run at once, niced. One per
    process and (capacity, nice), shared by every loop's gate."""
    return ThreadPoolExecutor(max_workers=capacity, thread_name_prefix="argon2",
                              initializer=_lower_priority, initargs=(nice,))


_GATES: dict[tuple[int, str | None, str, int, float, int], tuple[object, Argon2Gate]] = {}


def gate_for(settings: Settings) -> Argon2Gate:
    """This process's gate for ``settings`` on the running loop (tests run several loops
    and settings; production has one of each)."""
    loop = asyncio.get_running_loop()
    capacity = settings.resolved_max_concurrent_argon2
    key = (id(loop), settings.redis_url, settings.redis_key_prefix, capacity,
           settings.argon2_poll_seconds, settings.argon2_nice)
    entry = _GATES.get(key)
    if entry is None or entry[0] is not loop:
        host = socket.gethostname()
        pool = Pool(redis_from_settings(settings), settings.redis_key_prefix, "argon2",
                    ttl=HOLD_TTL, shared_keys=Argon2Gate.shared_keys(host))
        entry = (loop, Argon2Gate(pool, host, capacity, settings.argon2_poll_seconds,
                                  settings.argon2_nice))
        _GATES[key] = entry
    return entry[1]


class Ticket(Generic[T]):
    """An Argon2 computation started ahead of need (:func:`start_argon2`): it waits for a
    slot at its priority meanwhile; :meth:`hurry` raises it once it is needed and returns
    what to await; :meth:`cancel` withdraws it if it has not begun (a hash that has begun
    runs to its end, as every hash does, and its result is dropped)."""

    def __init__(self, gate: Argon2Gate, priority: Priority, fn: Callable[..., T],
                 args: tuple[Any, ...]) -> None:
        self.gate = gate
        # In line now, not when the task first runs: a body that is already in may be
        # hurried before then, and the hurry must find the waiter.
        self.waiter = gate.enqueue(priority)
        self.running = False
        self.task: asyncio.Task[T] = asyncio.ensure_future(
            gate.run(priority, fn, *args, ticket=self))
        self.task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[T]) -> None:
        # A task cancelled before its first step never ran acquire's cleanup.
        self.gate._leave(self.waiter)
        # A ticket nobody awaited (its request failed): its outcome is of no interest,
        # and asyncio must not log it as "never retrieved".
        if not task.cancelled():
            task.exception()

    def hurry(self, priority: Priority = Priority.RECEIPT) -> asyncio.Task[T]:
        if not self.running:
            self.gate.hurry(self.waiter, priority)
        return self.task

    def cancel(self) -> None:
        if not self.running and not self.task.done():
            self.task.cancel()


def start_argon2(settings: Settings, fn: Callable[..., T], *args: Any,
                 priority: Priority = Priority.EARLY) -> Ticket[T]:
    """Start ``fn`` now at ``priority`` (a receipt while its body streams, say), to be
    awaited later through :meth:`Ticket.hurry`."""
    return Ticket(gate_for(settings), priority, fn, args)


async def run_argon2(settings: Settings, fn: Callable[..., T], *args: Any,
                     priority: Priority = Priority.RECEIPT) -> T:
    """Run an Argon2id computation in a worker thread once the host has a slot for it
    (see the module docstring), ``priority`` deciding who goes first."""
    return await gate_for(settings).run(priority, fn, *args)
