"""``dokaz backup`` and ``dokaz restore``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from api.core.cli import quiet_option
from api.core.db import make_engine
from api.core.logging import configure_logging
from api.core.progress import for_terminal
from api.core.settings import get_settings


def backup(
    out: Path = typer.Option(..., "--out", help="archive to write (must not exist)"),
    quiet: bool = quiet_option(),
) -> None:
    """Write an encrypted, consistent backup of the database and every blob."""
    from api.backup.service import BackupError, create_backup

    settings = get_settings()
    configure_logging(settings.log_level, "text")
    engine = make_engine(settings)
    try:
        with for_terminal(quiet) as progress:
            summary = create_backup(settings, engine, out, progress)
    except BackupError as exc:
        typer.echo(f"backup failed: {exc}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    typer.echo(f"backup written to {out}: {summary}")


def restore(
    in_: Path = typer.Option(..., "--in", help="archive written by `dokaz backup`"),
    recovery_key_stdin: bool = typer.Option(
        False, "--recovery-key-stdin", help="read the offline recovery key from stdin"
    ),
    quiet: bool = quiet_option(),
) -> None:
    """Restore a backup into an EMPTY database and an empty blob store.

    A restore that fails leaves the target as it found it (no migrated, empty database
    behind), so it can be retried as it is."""
    from api.backup.service import BackupError, restore_into

    if not recovery_key_stdin:
        typer.echo("Pass --recovery-key-stdin and type or pipe the organisation recovery key.",
                   err=True)
        raise typer.Exit(code=2)
    key_text = sys.stdin.readline().strip()
    settings = get_settings()
    configure_logging(settings.log_level, "text")
    try:
        with for_terminal(quiet) as progress:
            summary = restore_into(settings, in_, key_text, progress)
    except BackupError as exc:
        typer.echo(f"restore failed: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"restored from {in_}: {summary}")


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the ``dokaz`` command line."""
    app.command("backup")(backup)
    app.command("restore")(restore)
