"""The ``dokaz`` command line. Feature packages add their own sub-commands here."""

from __future__ import annotations

import sys

import typer

from api.core.logging import configure_logging, uvicorn_log_config
from api.core.settings import Settings, get_settings

app = typer.Typer(
    name="dokaz",
    help="Dokaz: secure case intake for documenting detention, torture and disappearance.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _register_feature_commands() -> None:
    """Each feature's ``cli.register(app)`` adds its commands (users, audit, jobs, ...)."""
    import importlib

    for feature in FEATURES_WITH_COMMANDS:
        importlib.import_module(f"api.{feature}.cli").register(app)


FEATURES_WITH_COMMANDS = ["keys", "auth", "audit", "partners", "jobs", "backup", "stats", "fsck"]


_register_feature_commands()


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


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Overrides DOKAZ_HOST."),
    port: int | None = typer.Option(None, help="Overrides DOKAZ_PORT."),
    workers: int | None = typer.Option(None, help="Overrides DOKAZ_WORKERS."),
) -> None:
    """Migrate the database if needed and serve the API and the public form."""
    import uvicorn

    from api.core.server import http_protocol

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    prepare(settings)
    from api.keys.cli import ensure_at_startup

    ensure_at_startup(settings)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        log_config=uvicorn_log_config(),
        access_log=False,  # uvicorn's access log prints client addresses
        proxy_headers=False,
        forwarded_allow_ips="",
        server_header=False,
        http=http_protocol(settings),  # uvicorn alone lets a slowloris hold a connection
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=10,
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    settings = get_settings()
    configure_logging(settings.log_level, "text")
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    from api.core import migrations

    migrations.upgrade(settings, revision)
    typer.echo(f"database at {migrations.head_revision() if revision == 'head' else revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="e.g. -1 or base")) -> None:
    """Revert migrations down to REVISION."""
    settings = get_settings()
    from api.core import migrations

    migrations.downgrade(settings, revision)
    typer.echo(f"database downgraded to {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the current and head revisions."""
    from api.core import migrations
    from api.core.db import make_engine

    engine = make_engine(get_settings())
    typer.echo(f"current: {migrations.current_revision(engine)}")
    typer.echo(f"head:    {migrations.head_revision()}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
