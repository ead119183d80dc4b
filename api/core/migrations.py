"""Alembic is the only way the schema is made; these helpers drive it from code."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from alembic import command
from api.core.settings import Settings


def migrations_dir() -> Path:
    here = Path(__file__).resolve().parents[2] / "alembic"
    if here.is_dir():
        return here
    cwd = Path.cwd() / "alembic"
    if cwd.is_dir():
        return cwd
    raise RuntimeError("cannot find the alembic/ migrations directory next to the package")


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    # ConfigParser interpolation would eat "%" in passwords.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(settings: Settings, revision: str = "head", *, url: str | None = None) -> None:
    command.upgrade(alembic_config(url or settings.resolved_database_url), revision)


def downgrade(settings: Settings, revision: str, *, url: str | None = None) -> None:
    command.downgrade(alembic_config(url or settings.resolved_database_url), revision)


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
