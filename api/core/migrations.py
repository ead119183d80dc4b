"""Alembic is the only way the schema is made; these helpers drive it from code.

Alembic (with Mako and its templates) is imported inside the functions that use it: an
API process needs it only to migrate (``dokaz serve`` does so before it serves) and to
name the revisions for ``/readyz``; imported with this module, which the app imports, it
cost every process (each worker, the upload bench's server) about 15 MiB of resident
memory before any of that ran (bench/upload.py holds a process to 150 MiB while a body
streams).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from api.core.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config


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
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    # ConfigParser interpolation would eat "%" in passwords.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(settings: Settings, revision: str = "head", *, url: str | None = None) -> None:
    from alembic import command

    command.upgrade(alembic_config(url or settings.resolved_database_url), revision)


def downgrade(settings: Settings, revision: str, *, url: str | None = None) -> None:
    from alembic import command

    command.downgrade(alembic_config(url or settings.resolved_database_url), revision)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
