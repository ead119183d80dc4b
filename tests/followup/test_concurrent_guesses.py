"""Concurrent guesses at one receipt cannot outrun its limit.

Found over Tor: 40 guesses sent at once all ran Argon2 against a limit of 5 an hour,
because the check and the count were separate steps. The attempt is now reserved under
the receipt row's lock before Argon2, and given back when the receipt is right.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import crypto
from api.followup import service as followup_service
from tests.intake.conftest import Intake
from tests.intake.helpers import report


def _wrong(good: str) -> str:
    return good[:10] + ("A" if good[10] != "A" else "B") + good[11:]


async def _burst(app: Any, receipts: list[str]) -> list[int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://onion") as client:
        answers = await asyncio.gather(*(
            client.post("/api/v1/followup/session", json={"receipt": r}) for r in receipts))
    return [a.status_code for a in answers]


def test_forty_concurrent_guesses_run_argon2_at_most_the_limit(
    intake_with: Callable[..., Intake], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No per-client identity: only the receipt's own count stands between the guesses and
    # the receipt, which is what this test is about.
    intake = intake_with(client_identity="none", receipt_attempts_per_hour=5)
    good = intake.client.post("/api/v1/submissions", json=report()).json()["receipt"]
    checked: list[str] = []
    real = crypto.verify_receipt

    def counting(code: Any, verifier: Any) -> Any:
        checked.append("argon2")
        return real(code, verifier)

    monkeypatch.setattr(followup_service, "verify_receipt", counting)  # the name the service calls
    codes = asyncio.run(_burst(intake.client.app, [_wrong(good)] * 40))
    assert sorted(set(codes)) == [401, 429], codes
    assert codes.count(401) <= 5 and len(checked) <= 5
    # Locked now, for the right receipt too (until the lock passes).
    assert intake.client.post("/api/v1/followup/session",
                              json={"receipt": good}).status_code == 429


def test_a_right_receipt_gives_its_attempt_back(intake_with: Callable[..., Intake]) -> None:
    intake = intake_with(receipt_attempts_per_hour=3)
    good = intake.client.post("/api/v1/submissions", json=report()).json()["receipt"]
    # Signing in many times with the right receipt never uses up the client's budget ...
    for _ in range(6):
        assert intake.client.post("/api/v1/followup/session",
                                  json={"receipt": good}).status_code == 201
    # ... while wrong ones do: two misses, then the right one still opens.
    for _ in range(2):
        assert intake.client.post("/api/v1/followup/session",
                                  json={"receipt": _wrong(good)}).status_code == 401
    assert intake.client.post("/api/v1/followup/session",
                              json={"receipt": good}).status_code == 201
