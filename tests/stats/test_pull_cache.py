"""Rendered pulls are cached per release, partner, table, query, format and language; a
cached pull is audited like any other. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.audit.models import AuditEntry
from api.auth.roles import Role
from api.core.settings import Settings
from api.services import services_of
from api.stats import formats, service
from api.stats.rendered import PullCache, PullKey, RenderedPull
from tests.factories import create_staff, login_headers
from tests.stats.conftest import add_victims, partner_key

ACTS = "/api/v1/stats/tables/acts_by_type_region_month"
Q = {"dims": "region", "from": "2021-01", "to": "2021-06"}


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times each format was rendered from the release."""
    counted: Counter[str] = Counter()

    def counting(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counted[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    for name in ("as_json", "csv_rows", "as_svg"):
        monkeypatch.setattr(formats, name, counting(name, getattr(formats, name)))
    return counted


def _refresh(session: Session, settings: Settings) -> None:
    service.refresh(session, settings, force=True)
    session.commit()


def _pulls(client: TestClient) -> list[dict[str, Any]]:
    with Session(services_of(client.app).engine) as s:
        entries = s.exec(select(AuditEntry).where(col(AuditEntry.action) == "partner.pull")
                         .order_by(col(AuditEntry.seq))).all()
        return [{"actor": e.actor_id, "kind": e.actor_kind, "target": e.target,
                 **json.loads(e.details)} for e in entries]


def test_a_repeated_pull_is_served_from_the_cache_and_audited_the_same(
    stats_client: TestClient, session: Session, stats_settings: Settings,
    renders: Counter[str],
) -> None:
    add_victims(session, 14, region="BY-HM", month="2021-03")
    add_victims(session, 3, region="BY-BR", month="2021-03")
    _refresh(session, stats_settings)
    p = partner_key(session)
    first = stats_client.get(ACTS, headers=p.headers, params=Q)
    again = stats_client.get(ACTS, headers=p.headers, params=Q)
    assert first.status_code == again.status_code == 200, first.text
    assert renders["as_json"] == 1  # the second came from the cache
    assert again.content == first.content
    assert again.headers["content-type"] == "application/json"
    body = first.json()
    assert body["suppressed_cells"] >= 1  # the small cell (and its complement) hidden
    assert any(c["value"] == 17 for c in body["cells"])  # the total is published
    audit = _pulls(stats_client)
    assert len(audit) == 2 and audit[0] == audit[1]  # every pull on record, alike
    assert audit[0] == {"actor": p.partner_id, "kind": "partner", "target":
                        "acts_by_type_region_month", "key_id": audit[0]["key_id"],
                        "format": "json", "outcome": "ok", "mode": "suppressed",
                        "cells": len(body["cells"]), "suppressed": body["suppressed_cells"],
                        "charged": False}


def test_each_view_is_its_own_entry_and_a_new_release_renders_afresh(
    stats_client: TestClient, session: Session, stats_settings: Settings,
    renders: Counter[str],
) -> None:
    add_victims(session, 14, region="BY-HM", month="2021-03")
    _refresh(session, stats_settings)
    p = partner_key(session)
    other = partner_key(session, name="Another NGO")

    def pull(key: Any = p, path: str = ACTS, **extra: str) -> Any:
        r = stats_client.get(path, headers=key.headers, params={**Q, **extra})
        assert r.status_code == 200, r.text
        return r

    base = pull()
    pull()
    assert renders["as_json"] == 1
    pull(region="BY-HM")  # another filter
    pull(lang="be")  # another language
    pull(path="/api/v1/stats/tables/victims_by_sex_age_month", dims="sex")  # another table
    pull(key=other)  # another partner: never served what was rendered for p
    assert renders["as_json"] == 5
    pull(format="csv")
    pull(format="csv")
    assert renders["csv_rows"] == 1
    stats_client.get(f"{ACTS}/chart.svg", headers=p.headers)
    stats_client.get(f"{ACTS}/chart.svg", headers=p.headers)
    assert renders["as_svg"] == 1

    add_victims(session, 6, region="BY-HM", month="2021-03")
    _refresh(session, stats_settings)
    fresh = pull()
    assert renders["as_json"] == 6  # a new release: rendered again, from the new grid
    assert fresh.json()["release"]["id"] != base.json()["release"]["id"]
    hm = next(c for c in fresh.json()["cells"] if c["region"]["code"] == "BY-HM")
    assert hm["value"] == 20
    assert len(_pulls(stats_client)) == 11  # every pull audited, cached or not


def test_differentially_private_pulls_are_never_cached(
    stats_client: TestClient, session: Session, stats_settings: Settings,
    renders: Counter[str],
) -> None:
    add_victims(session, 30, region="BY-HR", month="2021-02")
    _refresh(session, stats_settings)
    p = partner_key(session)
    admin = create_staff(session, Role.ADMIN, settings=stats_settings)
    r = stats_client.put(f"/api/v1/stats/partners/{p.partner_id}/policy",
                         headers=login_headers(stats_client, admin),
                         json={"mode": "dp", "epsilon_per_pull": 1.0, "epsilon_budget": 5})
    assert r.status_code == 200, r.text
    first = stats_client.get(ACTS, headers=p.headers, params=Q).json()
    again = stats_client.get(ACTS, headers=p.headers, params=Q).json()
    assert renders["as_json"] == 2
    assert first["method"]["epsilon_remaining"] == again["method"]["epsilon_remaining"] == 4
    assert again["method"]["repeated"] is True
    assert [a["charged"] for a in _pulls(stats_client)] == [True, False]
    assert len(services_of(stats_client.app).stats_pull_cache) == 0


def test_the_cache_can_be_turned_off(
    stats_settings: Settings, session: Session, engine: Any, renders: Counter[str],
) -> None:
    from api.app import create_app

    add_victims(session, 12, region="BY-HM", month="2021-03")
    _refresh(session, stats_settings)
    p = partner_key(session)
    off = stats_settings.model_copy(update={"stats_pull_cache_mib": 0})
    with TestClient(create_app(off, engine)) as client:
        for _ in range(2):
            assert client.get(ACTS, headers=p.headers, params=Q).status_code == 200
    assert renders["as_json"] == 2


def _key(n: int) -> PullKey:
    return PullKey(uuid.UUID(int=1), uuid.UUID(int=2), "t", "json", "en", (str(n),), ())


def _pull(size: int) -> RenderedPull:
    return RenderedPull(b"x" * size, "application/json", "suppressed", 1, 0, False)


def test_the_cache_is_bounded_by_the_size_of_its_bodies() -> None:
    cache = PullCache(max_mib=0.001)  # 1048 bytes
    for n in range(4):
        cache.put(_key(n), _pull(300))
    assert len(cache) == 3 and cache.size_bytes == 900
    assert cache.get(_key(0)) is None  # the least recently used went first
    assert cache.get(_key(1)) is not None  # ... and reading one keeps it
    cache.put(_key(4), _pull(300))
    assert cache.get(_key(1)) is not None and cache.get(_key(2)) is None
    cache.put(_key(5), _pull(5000))  # larger than the whole bound: not kept
    assert cache.get(_key(5)) is None and cache.size_bytes <= cache.max_bytes
    cache.put(_key(1), _pull(100))  # replacing an entry frees its old size
    assert cache.size_bytes == 700


def test_refresh_reports_its_time_and_says_when_the_release_is_kept(
    database: Any, session: Session, tmp_path: Any,
) -> None:
    from typer.testing import CliRunner

    from api import cli
    from api.core.settings import get_settings

    add_victims(session, 12, region="BY-HM", month="2021-03")
    env = {"DOKAZ_DATABASE_URL": database.url, "DOKAZ_DATA_DIR": str(tmp_path),
           "DOKAZ_KDF_PROFILE": "fast-insecure-for-tests", "DOKAZ_LOG_FORMAT": "text"}
    outputs = []
    for args in (["stats", "refresh"], ["stats", "refresh"]):
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli.app, args, env=env)
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout)
    assert "published" in outputs[0] and " s: count " in outputs[0]
    assert "protect " in outputs[0] and "store " in outputs[0]
    # Within the interval nothing is refreshed, and the message says so and why.
    assert outputs[1].startswith("nothing refreshed:") and "--force" in outputs[1]
