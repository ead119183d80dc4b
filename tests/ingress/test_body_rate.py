"""The body's minimum data rate: a trickle is stopped with 408, a slow but steady phone is not.

These drive :func:`api.ingress.guards.timed_stream` with a real Starlette request whose
ASGI ``receive`` delivers chunks at a chosen pace.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
from starlette.requests import Request
from starlette.types import Message

from api.core.settings import Settings
from api.ingress.guards import BodyTimeout, BodyTooSlow, timed_stream


def paced_request(chunks: Sequence[tuple[float, bytes]]) -> Request:
    """A request whose body arrives as ``(pause before it, bytes)`` pieces."""
    pending = list(chunks)

    async def receive() -> Message:
        if not pending:
            return {"type": "http.request", "body": b"", "more_body": False}
        pause, data = pending.pop(0)
        await anyio.sleep(pause)
        return {"type": "http.request", "body": data, "more_body": True}

    return Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)


def read_all(request: Request, settings: Settings) -> bytes:
    async def go() -> bytes:
        return b"".join([chunk async for chunk in timed_stream(request, settings)])

    return anyio.run(go)


@pytest.fixture
def rate(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, min_body_bytes_per_window=100,
                    body_rate_window_seconds=0.4, request_body_timeout_seconds=30)


def test_a_trickle_is_stopped_within_a_window_or_two(rate: Settings) -> None:
    trickle = paced_request([(0.05, b"x")] * 200)  # 20 bytes a second for 10 s
    with pytest.raises(BodyTooSlow) as refused:
        read_all(trickle, rate)
    assert refused.value.status_code == 408
    assert "too slowly" in refused.value.message


def test_a_steady_body_passes_whatever_its_length(rate: Settings) -> None:
    steady = paced_request([(0.1, b"y" * 60)] * 12)  # 600 B/s for 1.2 s: three windows
    assert read_all(steady, rate) == b"y" * 720


def test_a_pause_of_a_whole_window_after_enough_bytes_is_allowed(rate: Settings) -> None:
    # The first window got its bytes early; the next window is judged at its own end.
    paused = paced_request([(0.0, b"z" * 150), (0.5, b"z" * 150), (0.1, b"z" * 150)])
    assert read_all(paused, rate) == b"z" * 450


def test_silence_after_the_first_bytes_is_stopped(rate: Settings) -> None:
    silent = paced_request([(0.0, b"a" * 150), (5.0, b"a")])
    with pytest.raises(BodyTooSlow):
        read_all(silent, rate)


def test_no_minimum_rate_leaves_only_the_deadline(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, min_body_bytes_per_window=0,
                        body_rate_window_seconds=0.1, request_body_timeout_seconds=0.5)
    assert read_all(paced_request([(0.05, b"b")] * 4), settings) == b"bbbb"
    with pytest.raises(BodyTimeout) as stopped:
        read_all(paced_request([(0.2, b"b")] * 10), settings)
    assert not isinstance(stopped.value, BodyTooSlow)


def test_the_default_never_trips_a_phone_on_tor(tmp_path: Path) -> None:
    # 1 KB/s sustained is 60 KB a minute: fifteen times the default minimum.
    settings = Settings(data_dir=tmp_path)
    per_window = 1000 * settings.body_rate_window_seconds
    assert per_window >= 10 * settings.min_body_bytes_per_window
