from __future__ import annotations

import typer

from api.core.db import make_engine, unit_of_work
from api.core.settings import get_settings
from api.keys.repository import active_recovery_key
from api.keys.service import ensure_recovery_key_interactive

keys_app = typer.Typer(help="Organisation recovery key and key grants.", no_args_is_help=True)


@keys_app.command("init")
def keys_init() -> None:
    """Create the organisation recovery key pair and print the private part once."""
    settings = get_settings()
    if not ensure_recovery_key_interactive(settings):
        typer.echo("A recovery key already exists; nothing was changed.", err=True)
        raise typer.Exit(code=1)


@keys_app.command("show")
def keys_show() -> None:
    """Show the fingerprint of the active recovery public key."""
    with unit_of_work(make_engine(get_settings())) as session:
        key = active_recovery_key(session)
        if key is None:
            typer.echo("No recovery key yet: run `dokaz keys init`.", err=True)
            raise typer.Exit(code=1)
        created = f"{key.created_at:%Y-%m-%d}"
        typer.echo(f"recovery key fingerprint: {key.fingerprint} (created {created})")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
