"""The receipt's Argon2 runs while the report's body still streams, so a slow upload
(over Tor) finds its receipt ready at its last byte instead of queueing for it then."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from api.intake import service
from tests.factories import sample_report
from tests.intake.conftest import Intake


def test_the_receipt_is_hashed_before_the_last_byte(
        intake_with: Callable[..., Intake], monkeypatch: pytest.MonkeyPatch) -> None:
    intake = intake_with(receipt_stock=0)  # no receipt ready: this one is hashed ahead
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


def test_a_small_submission_takes_a_ready_receipt_from_the_stock(
        intake_with: Callable[..., Intake], monkeypatch: pytest.MonkeyPatch) -> None:
    """A tus upload's submission is a small JSON body: nothing to hide a hash behind. With
    a receipt in stock it needs none on its path; one kept too long is dropped."""
    intake = intake_with(receipt_stock=1, receipt_stock_seconds=0.5)
    real = service.prepare_receipt
    hashes: list[str] = []

    def prepare(settings: object) -> service.PreparedReceipt:
        hashes.append("hash")
        if broken:
            raise RuntimeError("no hash may run on this submission's path")
        return real(intake.settings)

    monkeypatch.setattr(service, "prepare_receipt", prepare)
    broken = False

    async def main() -> list[int]:
        app = intake.client.app
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://dokaz.test") as http:
            async def submit() -> int:
                r = await http.post("/api/v1/submissions", json=sample_report())
                return r.status_code

            first = await submit()  # the stock is empty: hashed ahead, and a refill starts
            stock = service.receipt_stock(intake.settings)
            while not stock.ready:
                await asyncio.sleep(0.01)
            nonlocal broken
            broken = True
            second = await submit()  # served from the stock
            await asyncio.sleep(0.05)
            while stock.filling is not None:  # the refill after it fails (broken)
                await asyncio.sleep(0.01)
            broken = False
            stock.refill(intake.settings)  # a failed refill waits for the next take
            while not stock.ready:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.6)  # kept too long: dropped, so this one hashes
            before = len(hashes)
            third = await submit()
            assert len(hashes) > before
            return [first, second, third]

    assert asyncio.run(main()) == [201, 201, 201]
