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


def submit_with_file(client: object, canary: str) -> dict[str, object]:
    """A real multipart submission whose narrative, filename and file bytes hold ``canary``."""
    import json

    from tests.factories import sample_report

    report = sample_report(narrative=f"{canary} was detained by {canary}-officer.")
    files = [("files", (f"{canary}.txt", f"file bytes {canary}".encode(), "text/plain"))]
    response = client.post("/api/v1/submissions",  # type: ignore[attr-defined]
                           data={"submission": json.dumps(report)}, files=files)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body
