"""The ``dokaz`` command line. Feature packages add their own sub-commands here."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING

import typer

from api.core.cli import prepare, quiet_option
from api.core.logging import configure_logging
from api.core.settings import ClientIdentitySetting, Settings, get_settings

if TYPE_CHECKING:
    from api.core.server import Listener
    from api.core.surfaces import Surface

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


# "cases.access" right after "keys": it adds `dokaz keys grant` to the keys group.
FEATURES_WITH_COMMANDS = ["keys", "cases.access", "auth", "audit", "partners", "jobs", "intake",
                          "notifications", "backup", "stats", "fsck"]


_register_feature_commands()


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Overrides DOKAZ_HOST."),
    port: int | None = typer.Option(None, help="Overrides DOKAZ_PORT."),
    workers: int | None = typer.Option(None, help="Overrides DOKAZ_WORKERS."),
    staff_port: int | None = typer.Option(None, help="Overrides DOKAZ_STAFF_PORT."),
    staff_workers: int | None = typer.Option(
        None, min=1, max=64, help="Overrides DOKAZ_STAFF_WORKERS (with a staff port and "
        "more than one worker: staff processes of their own)."),
) -> None:
    """Migrate the database if needed and serve the API and the public form (and, with
    DOKAZ_STAFF_PORT, the staff routes on a port of their own: with more than one worker,
    in processes of their own too)."""
    import uvicorn

    from api.core.server import uvicorn_options

    settings = get_settings()
    if staff_port is not None:
        settings = settings.model_copy(update={"staff_port": staff_port})
    if staff_workers is not None:
        settings = settings.model_copy(update={"staff_workers": staff_workers})
    host, port, workers = host or settings.host, port or settings.port, workers or settings.workers
    if settings.staff_port is not None:
        _check_staff_listener(settings, host, port)
    configure_logging(settings.log_level, settings.log_format)
    prepare(settings)
    from api.keys.cli import ensure_at_startup

    ensure_at_startup(settings)
    places = _places(settings, host, port)
    if workers > 1 and len(places) > 1:
        from functools import partial

        from api.core.server import Group, serve_groups

        # Two process groups, each its own supervisor: the public surface in ``workers``
        # processes, the staff surface in ``staff_workers`` of its own, so an intake surge
        # cannot take the event loops and threads that triage runs on.
        public, staff = places
        code = serve_groups(settings, [
            Group("public", [public[1:]], partial(_listeners, settings, [public]), workers,
                  nice=settings.public_nice),
            Group("staff", [staff[1:]], partial(_listeners, settings, [staff]),
                  settings.staff_workers),
        ])
        if code:
            raise typer.Exit(code)
    elif workers > 1:
        from functools import partial

        from api.core.server import serve_workers

        # The sockets are bound here, once; each worker process makes its own listeners
        # (its own engine and pool, storage client and limiters) and serves them all.
        serve_workers(settings, [(where, at, identity) for _, where, at, identity in places],
                      partial(_listeners, settings, places), workers)
    elif len(places) > 1:
        from api.core.server import serve_together

        with _listeners(settings, places) as listeners:
            serve_together(settings, listeners)
    else:
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port,
                    **uvicorn_options(settings, settings.client_identity))


def _check_staff_listener(settings: Settings, host: str, port: int) -> None:
    if settings.staff_port == port and settings.resolved_staff_host == host:
        typer.echo("DOKAZ_STAFF_PORT must differ from DOKAZ_PORT.", err=True)
        raise typer.Exit(2)


# (surface, host, port, client identity) of each port dokaz serve listens on.
_Place = tuple["Surface", str, int, ClientIdentitySetting]


def _places(settings: Settings, host: str, port: int) -> list[_Place]:
    """One port for everything, or (with a staff port) the public port then the staff one."""
    from api.core.surfaces import Surface, client_identity_for

    if settings.staff_port is None:
        return [(Surface.ALL, host, port, settings.client_identity)]
    return [(surface, where, at, client_identity_for(settings, surface))
            for surface, where, at in ((Surface.PUBLIC, host, port),
                                       (Surface.STAFF, settings.resolved_staff_host,
                                        settings.staff_port))]


@contextlib.contextmanager
def _listeners(settings: Settings, places: list[_Place]) -> Iterator[list[Listener]]:
    """The listeners of one process, in the order of ``places``."""
    from api.app import create_app
    from api.core.db import make_engine
    from api.core.server import Listener
    from api.services import build_services

    # One set of services for every app: one engine and pool, one storage client, and
    # limiters that count a client's requests whichever port they come in on.
    engine = make_engine(settings, serving=True)
    services = build_services(settings, engine)
    try:
        yield [Listener(create_app(surface=surface, services=services), where, at, identity)
               for surface, where, at, identity in places]
    finally:
        engine.dispose()


# Here, not in api/jobs/cli.py: no ``api`` feature may import the workers, and this root
# command is the composition point that may.
@app.command()
def worker(
    once: bool = typer.Option(False, "--once", help="run what is due now, then exit"),
    concurrency: int = typer.Option(1, min=1, max=64, help="jobs run in parallel"),
    schedule: bool = typer.Option(True, help="also enqueue periodic jobs"),
) -> None:
    """Run background jobs (start one or more per machine; they coordinate via the DB)."""
    from api.core.db import make_engine
    from workers.runner import Worker

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    engine = make_engine(settings)
    w = Worker(settings, engine, concurrency=concurrency, schedule=schedule)
    if once:
        count = w.drain()
        typer.echo(f"{count} jobs run", err=True)
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        w.stop.set()  # finish the current job, then exit

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    w.run_forever()
    engine.dispose()


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head"), quiet: bool = quiet_option()) -> None:
    """Apply migrations up to REVISION (default: head)."""
    settings = get_settings()
    configure_logging(settings.log_level, "text")
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    from api.core import migrations
    from api.core.progress import for_terminal

    with for_terminal(quiet) as progress:
        migrations.upgrade(settings, revision, progress=progress)
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
