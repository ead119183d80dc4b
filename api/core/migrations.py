"""Alembic is the only way the schema is made; these helpers drive it from code.

Alembic (with Mako and its templates) is imported inside the functions that use it: an
API process needs it only to migrate (``dokaz serve`` does so before it serves) and to
name the revisions for ``/readyz``; imported with this module, which the app imports, it
cost every process (each worker, the upload bench's server) about 15 MiB of resident
memory before any of that ran (bench/upload.py holds a process to 150 MiB while a body
streams).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from api.core.progress import SILENT, Progress
from api.core.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("dokaz.db")


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


def upgrade(settings: Settings, revision: str = "head", *, url: str | None = None,
            progress: Progress = SILENT) -> None:
    from alembic import command

    cfg = alembic_config(url or settings.resolved_database_url)
    applied: list[str] = []

    def on_version_apply(**kwargs: Any) -> None:
        applied.append(str(kwargs["step"].up_revision_id))
        progress.advance()

    # alembic/env.py hands this to Alembic, which calls it after each revision.
    cfg.attributes["on_version_apply"] = on_version_apply
    if progress is not SILENT:
        progress.step("migrations", _pending(cfg, revision))
    command.upgrade(cfg, revision)
    if applied:
        # One line of our own, since Alembic's per-revision lines are kept below INFO
        # (api.core.logging.NOISY_LIBRARIES).
        log.info("database schema upgraded to %s (%d revision%s applied)", applied[-1],
                 len(applied), "" if len(applied) == 1 else "s")


def _pending(cfg: Config, revision: str) -> int:
    """How many revisions an upgrade to ``revision`` applies."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(cfg.get_main_option("sqlalchemy.url") or "sqlite://",
                           poolclass=NullPool)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    script = ScriptDirectory.from_config(cfg)
    return sum(1 for _ in script.iterate_revisions(revision, current or "base"))


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
