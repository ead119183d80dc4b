"""Limits that hold across API processes, through a real Redis (127.0.0.1:6379).

Each "process" here is its own app (its own memory, its own per-process address key);
what they share is only Redis. Every test uses its own key prefix, so parallel test
workers never see each other's counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from redis import Redis
from starlette.types import ASGIApp, Receive, Scope, Send

from api.app import create_app
from api.core.privacy import PROXY_IDENTITY_SCOPE_KEY
from api.core.ratelimit import SharedSlidingWindow
from api.core.shared import Leases, shared_secret
from tests.conftest import SharedRedis
from tests.intake.conftest import Intake
from tests.intake.helpers import report


def keys(client: Redis, prefix: str) -> list[str]:
    return sorted(k.decode() for k in client.scan_iter(match=prefix + "*"))


def test_two_processes_share_a_circuit_limit(shared_redis: SharedRedis) -> None:
    client, prefix = shared_redis.client, shared_redis.prefix
    one, two = (SharedSlidingWindow(2, 60, redis=client, name="w", prefix=prefix)
                for _ in range(2))
    assert one.hit("c:circuit-a") == 0
    assert two.hit("c:circuit-a") == 0
    assert one.hit("c:circuit-a") > 0 and two.hit("c:circuit-a") > 0
    assert two.retry_after("c:circuit-a") > 0
    assert one.hit("c:circuit-b") == 0  # another circuit has its own budget
    assert one.retry_after("c:circuit-b") == 0


def test_address_tags_never_reach_redis(shared_redis: SharedRedis) -> None:
    client, prefix = shared_redis.client, shared_redis.prefix
    one, two = (SharedSlidingWindow(1, 60, redis=client, name="w", prefix=prefix)
                for _ in range(2))
    assert one.hit("a:some-address") == 0
    assert one.hit("a:some-address") > 0  # limited in this process ...
    assert two.hit("a:some-address") == 0  # ... and only there
    assert keys(client, prefix) == []


def test_a_global_budget_is_shared_by_name(shared_redis: SharedRedis) -> None:
    client, prefix = shared_redis.client, shared_redis.prefix
    one, two = (SharedSlidingWindow(3, 60, redis=client, name="g", prefix=prefix,
                                    shared_keys=frozenset({"global"})) for _ in range(2))
    assert [one.hit("global"), two.hit("global"), one.hit("global")] == [0, 0, 0]
    assert two.hit("global") > 0
    assert keys(client, prefix) == [f"{prefix}rl:g:global"]
    assert 0 < client.pttl(f"{prefix}rl:g:global") <= 60_000  # it expires with its window


def test_without_redis_the_limit_counts_in_memory() -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2,
                          socket_connect_timeout=0.2)
    window = SharedSlidingWindow(1, 60, redis=down, name="w", shared_keys=frozenset({"global"}))
    assert window.hit("global") == 0  # no exception: a victim is never refused for Redis
    assert window.hit("global") > 0
    assert window.retry_after("c:x") == 0


def test_the_processes_agree_on_one_circuit_key(shared_redis: SharedRedis) -> None:
    client, prefix = shared_redis.client, shared_redis.prefix
    first = shared_secret(client, prefix, "circuit-tag-key")
    assert shared_secret(client, prefix, "circuit-tag-key") == first and len(first) == 32
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.2,
                          socket_connect_timeout=0.2)
    assert shared_secret(down, prefix, "circuit-tag-key") != first
    assert shared_secret(None, prefix, "x") != shared_secret(None, prefix, "x")


class Circuit:
    """Stands in for the PROXY protocol layer of ``dokaz serve`` (api.core.server): it
    puts a verified circuit identity into each request's scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.circuit = "circuit:1"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[PROXY_IDENTITY_SCOPE_KEY] = self.circuit
        await self.app(scope, receive, send)


def test_behind_tor_a_circuit_has_one_budget_across_processes(
    intake_with: Callable[..., Intake], shared_redis: SharedRedis,
) -> None:
    overrides: dict[str, Any] = dict(client_identity="proxy-protocol",
                                     intake_rate_per_client_per_hour=2,
                                     **shared_redis.overrides)
    first = intake_with(**overrides)  # creates the recovery key and the staff on duty
    wrapped = [Circuit(first.client.app)]
    second_app = Circuit(create_app(first.settings, first.engine))
    wrapped.append(second_app)
    with TestClient(wrapped[0]) as a, TestClient(wrapped[1]) as b:
        codes = [a.post("/api/v1/submissions", json=report()).status_code,
                 b.post("/api/v1/submissions", json=report()).status_code,
                 a.post("/api/v1/submissions", json=report()).status_code,
                 b.post("/api/v1/submissions", json=report()).status_code]
        assert codes == [201, 201, 429, 429]
        for circuit_app in wrapped:
            circuit_app.circuit = "circuit:2"
        assert b.post("/api/v1/submissions", json=report()).status_code == 201


def test_a_lease_is_held_by_one_process_at_a_time(shared_redis: SharedRedis) -> None:
    client, prefix = shared_redis.client, shared_redis.prefix
    one, two = Leases(client, prefix, ttl=0.3), Leases(client, prefix, ttl=0.3)
    held = one.acquire("upload:1")
    assert held is not None and two.acquire("upload:1") is None
    two.release("upload:1", "not-the-holder")  # only the holder's token releases it
    assert two.acquire("upload:1") is None
    one.release("upload:1", held)
    again = two.acquire("upload:1")
    assert again is not None
    time.sleep(0.4)  # a holder that died: the hold expires with its ttl
    assert one.acquire("upload:1") is not None


def test_a_renewed_lease_outlives_its_ttl(shared_redis: SharedRedis) -> None:
    client, prefix = shared_redis.client, shared_redis.prefix
    one, two = Leases(client, prefix, ttl=0.3), Leases(client, prefix, ttl=0.3)
    held = one.acquire("upload:2")
    assert held is not None
    for _ in range(3):
        time.sleep(0.15)
        one.renew("upload:2", held)
    assert two.acquire("upload:2") is None
