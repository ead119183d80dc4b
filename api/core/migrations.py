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
    """The repository's ``alembic/`` folder: next to the package (a checkout or an editable
    install) or in the working directory (the container image runs from /app). A folder
    without ``env.py`` is not it: installed non-editably, ``site-packages/alembic`` is the
    Alembic library itself."""
    for candidate in (Path(__file__).resolve().parents[2] / "alembic", Path.cwd() / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError("cannot find the alembic/ migrations directory (run from the checkout)")


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
