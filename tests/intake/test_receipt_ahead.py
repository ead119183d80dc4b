"""The receipt's Argon2 runs while the report's body still streams, so a slow upload
(over Tor) finds its receipt ready at its last byte instead of queueing for it then."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from api.intake import service
from tests.factories import sample_report
from tests.intake.conftest import Intake


def test_the_receipt_is_hashed_before_the_last_byte(
        intake: Intake, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[float] = []
    real = service.prepare_receipt

    def prepare(settings: object) -> service.PreparedReceipt:
        hashed.append(time.monotonic())
        return real(intake.settings)

    monkeypatch.setattr(service, "prepare_receipt", prepare)
    body = json.dumps(sample_report()).encode()
    last_byte: list[float] = []

    async def slowly() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 64):
            yield body[i:i + 64]
            await asyncio.sleep(0.02)
        last_byte.append(time.monotonic())

    async def send() -> httpx.Response:
        app = intake.client.app
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://dokaz.test") as http:
            return await http.post("/api/v1/submissions", content=slowly(),
                                   headers={"Content-Type": "application/json"})

    r = asyncio.run(send())
    assert r.status_code == 201, r.text
    assert r.json()["receipt"]
    assert len(hashed) == 1 and hashed[0] < last_byte[0]
