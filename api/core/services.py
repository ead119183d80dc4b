"""The application's services, built once per app and kept on ``app.state.services``.

:func:`build_services` makes them in ``create_app``; routes reach them through the typed
dependencies in :mod:`api.core.dependencies` (``Config``, ``Storage``, ``Clock``, ...),
never through ``app.state``. Tests reach the same objects with :func:`services_of`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from api.auth.clock import Clock as AuthClock
from api.auth.throttle import GlobalLimiter
from api.core.settings import Settings
from api.ingress.guards import Guards
from api.stats.limits import PullLimiter
from api.storage import BlobStorage, get_storage


@dataclass(frozen=True)
class AppServices:
    settings: Settings
    engine: Engine
    storage: BlobStorage
    clock: AuthClock
    login_limiter: GlobalLimiter
    stats_limiter: PullLimiter
    intake_guards: Guards


def build_services(settings: Settings, engine: Engine) -> AppServices:
    return AppServices(
        settings=settings,
        engine=engine,
        storage=get_storage(settings),
        clock=AuthClock(),
        login_limiter=GlobalLimiter(settings.login_attempts_global_per_minute),
        stats_limiter=PullLimiter(settings.stats_pulls_per_key_per_hour),
        intake_guards=Guards.from_settings(settings),
    )


def services_of(app: Any) -> AppServices:
    """The services of an app (a FastAPI app, or anything with its ``state``)."""
    services: AppServices = app.state.services
    return services
