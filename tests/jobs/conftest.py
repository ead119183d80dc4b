from __future__ import annotations

import pytest
from sqlalchemy import Engine

from api.core.settings import Settings
from tests.conftest import DbUnderTest
from workers.runner import Worker


@pytest.fixture
def job_settings(database: DbUnderTest, tmp_path: object) -> Settings:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    return database.make_settings(
        tmp_path / "data", job_backoff_base_seconds=0.01, job_backoff_max_seconds=0.05,
        job_lease_seconds=30,
    )


@pytest.fixture
def make_worker(job_settings: Settings, engine: Engine) -> object:
    def make(**kwargs: object) -> Worker:
        import tests.workers.probe  # noqa: F401  (registers the probe kinds)
        from workers.registry import REGISTRY

        kwargs.setdefault("schedule", False)
        kwargs.setdefault("specs", {k: REGISTRY[k] for k in ("probe", "probe_ext")})
        return Worker(job_settings, engine, **kwargs)  # type: ignore[arg-type]

    return make
