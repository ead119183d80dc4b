"""The Argon2id limiter: receipts are made and checked at most ``max_concurrent_argon2`` at a
time, so a burst of submissions or sign-ins cannot take every worker thread."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from api.core.settings import Settings

T = TypeVar("T")

_ARGON2_LIMITERS: dict[tuple[int, int], tuple[object, anyio.CapacityLimiter]] = {}


async def run_argon2(settings: Settings, fn: Callable[..., T], *args: Any) -> T:
    """Run an Argon2id computation in a worker thread, at most ``max_concurrent_argon2``
    at a time. Waiting happens here, in the event loop, not in a pool thread: otherwise
    a burst of receipts would occupy every worker thread and starve the encryption and
    database work of the uploads still streaming."""
    # One limiter per event loop (tests run several loops; production has one).
    loop = asyncio.get_running_loop()
    key = (id(loop), settings.max_concurrent_argon2)
    entry = _ARGON2_LIMITERS.get(key)
    if entry is None or entry[0] is not loop:
        entry = (loop, anyio.CapacityLimiter(settings.max_concurrent_argon2))
        _ARGON2_LIMITERS[key] = entry
    limiter = entry[1]
    return await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=limiter)
