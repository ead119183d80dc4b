"""Command-line helpers shared by the root command and the features' commands."""

from __future__ import annotations

import typer

from api.core.settings import Settings


def prepare(settings: Settings) -> None:
    """Refuse unsafe production settings, then make the data directory and migrate."""
    if settings.is_production:
        reasons = settings.insecure_reasons()
        if reasons:
            for reason in reasons:
                typer.echo(f"refusing to start: {reason}", err=True)
            raise typer.Exit(code=2)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    from api.core import migrations

    migrations.upgrade(settings)


def quiet_option() -> bool:
    """``--quiet``/``-q`` for commands that draw a progress bar (see api.core.progress)."""
    return typer.Option(False, "--quiet", "-q",  # type: ignore[no-any-return]
                        help="Draw no progress bar (none is drawn off a terminal anyway).")
