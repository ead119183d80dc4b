"""The application's services, built once per app and kept on ``app.state.services``.

:func:`build_services` makes them in ``create_app``. This is the composition root, like
:mod:`api.app`: it names every feature's service, so it lives above all of them, and no
feature imports it. Routes reach the services through typed dependencies, never through
``app.state``: the core's (``Config``, ``DbEngine``, ``Clock``, ``Now`` in
:mod:`api.core.dependencies`) and each feature's own (``Storage``, ``SignInLimits``,
``StatsLimiter``, ``StatsPullCache``; the intake guards through
``api.ingress.guards.guards_for``), all read by name with the core's runtime-checked
:func:`api.core.dependencies.service`. Tests reach the same objects with
:func:`services_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis import Redis
from sqlalchemy import Engine

from api.auth.throttle import SignInThrottle
from api.core.clock import Clock
from api.core.settings import Settings
from api.core.shared import Leases, redis_from_settings, shared_secret
from api.ingress.guards import Guards
from api.stats.limits import PullLimiter
from api.stats.rendered import PullCache
from api.storage import BlobStorage, get_storage


@dataclass(frozen=True)
class AppServices:
    settings: Settings
    engine: Engine
    storage: BlobStorage
    clock: Clock
    login_throttle: SignInThrottle  # sign-in delays per client and the global budget
    stats_limiter: PullLimiter
    stats_pull_cache: PullCache  # rendered partner pulls (api.stats.rendered)
    intake_guards: Guards
    redis: Redis | None  # shared state of several API processes (api.core.shared)
    circuit_key: bytes  # the HMAC key of Tor circuit tags, the same in every process
    upload_leases: Leases  # one PATCH at a time per upload, across processes


def build_services(settings: Settings, engine: Engine) -> AppServices:
    redis = redis_from_settings(settings)
    return AppServices(
        settings=settings,
        engine=engine,
        storage=get_storage(settings),
        clock=Clock(),
        login_throttle=SignInThrottle(settings, redis),
        stats_limiter=PullLimiter(settings.stats_pulls_per_key_per_hour),
        stats_pull_cache=PullCache(settings.stats_pull_cache_mib),
        intake_guards=Guards.from_settings(settings, redis),
        redis=redis,
        circuit_key=shared_secret(redis, settings.redis_key_prefix, "circuit-tag-key"),
        # Renewed as bytes arrive; a body that stalls a whole rate window fails anyway.
        upload_leases=Leases(redis, settings.redis_key_prefix,
                             ttl=max(60.0, 2 * settings.body_rate_window_seconds)),
    )


def services_of(app: Any) -> AppServices:
    """The services of an app (a FastAPI app, or anything with its ``state``)."""
    services: AppServices = app.state.services
    return services
