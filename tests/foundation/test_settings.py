from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from api.core.settings import Settings


def test_database_url_defaults_to_sqlite_in_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'dokaz.sqlite3'}"


def test_postgres_urls_use_psycopg3() -> None:
    s = Settings(database_url="postgresql://u@h/db")
    assert s.resolved_database_url == "postgresql+psycopg://u@h/db"


def test_env_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOKAZ_PORT", "9123")
    monkeypatch.setenv("DOKAZ_MAX_FILES_PER_SUBMISSION", "3")
    s = Settings()
    assert s.port == 9123
    assert s.max_files_per_submission == 3


def test_production_names_every_insecure_setting(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    s = Settings(environment="production", debug=True, data_dir=data)
    reasons = " ".join(s.insecure_reasons())
    assert "DOKAZ_DEBUG" in reasons
    assert "DOKAZ_SECRET_KEY" in reasons
    assert "chmod 700" in reasons
    assert "DOKAZ_AUDIT_SHIP_S3_BUCKET" in reasons


def test_production_with_safe_settings_has_no_reasons(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    s = Settings(environment="production", data_dir=data, secret_key="x" * 40,
                 audit_ship_s3_bucket="dokaz-audit-checkpoints")
    assert s.insecure_reasons() == []


def test_serve_refuses_insecure_production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from api.core.settings import get_settings

    monkeypatch.setenv("DOKAZ_ENVIRONMENT", "production")
    monkeypatch.setenv("DOKAZ_DATA_DIR", str(tmp_path / "d"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "refusing to start" in result.output
    assert "DOKAZ_SECRET_KEY" in result.output


def test_every_command_has_help() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    for command in ("serve", "db", "keys"):
        assert command in top.output
        r = runner.invoke(cli, [command, "--help"])
        assert r.exit_code == 0, (command, r.output)
