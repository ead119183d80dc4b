"""``dokaz worker``: run background jobs (registered on the root command by api/cli.py)."""

from __future__ import annotations

import signal
from types import FrameType

import typer

from api.core.db import make_engine
from api.core.logging import configure_logging
from api.core.settings import get_settings


def worker(
    once: bool = typer.Option(False, "--once", help="run what is due now, then exit"),
    concurrency: int = typer.Option(1, min=1, max=64, help="jobs run in parallel"),
    schedule: bool = typer.Option(True, help="also enqueue periodic jobs"),
) -> None:
    """Run background jobs (start one or more per machine; they coordinate via the DB)."""
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


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
