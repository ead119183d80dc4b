"""One PATCH at a time per upload: a second one while the first streams is 409.

Found over Tor: several PATCHes to one upload were all accepted at once, each reading its
body and holding a connection. The hold is in Redis with several processes (api.core.shared),
in memory for the embedded default; both are exercised here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import SharedRedis
from tests.intake.conftest import Intake
from tests.uploads.test_tus import FILE, PATCH, create, offset


async def _two_patches(app: Any, url: str) -> tuple[int, int, str]:
    first_started = asyncio.Event()
    let_first_finish = asyncio.Event()
    half = len(FILE) // 2

    async def slow_body() -> AsyncIterator[bytes]:
        yield FILE[:1024]
        first_started.set()
        await let_first_finish.wait()
        yield FILE[1024:half]

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://onion") as client:
        headers = {**PATCH, "Upload-Offset": "0"}
        first = asyncio.create_task(client.patch(url, content=slow_body(), headers=headers))
        await first_started.wait()
        second = await client.patch(url, content=FILE[:half], headers=headers)
        let_first_finish.set()
        done = await first
    return done.status_code, second.status_code, second.json()["error"]["message"]


@pytest.mark.parametrize("shared", ["memory", "redis"])
def test_a_second_patch_while_one_streams_is_409(
    intake_with: Callable[..., Intake], shared_redis: SharedRedis, shared: str,
) -> None:
    intake = intake_with(**(shared_redis.overrides if shared == "redis" else {}))
    url = create(intake.client, len(FILE), filename="scan.png")
    first, second, message = asyncio.run(_two_patches(intake.client.app, url))
    assert (first, second) == (204, 409)
    assert "still in progress" in message
    # The first PATCH's bytes are all there, and the hold is gone with it.
    assert offset(intake.client, url) == len(FILE) // 2
    r = intake.client.patch(url, content=FILE[len(FILE) // 2:],
                            headers={**PATCH, "Upload-Offset": str(len(FILE) // 2)})
    assert r.status_code == 204, r.text
