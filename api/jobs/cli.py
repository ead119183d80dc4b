"""``dokaz jobs list|retry|subscribe|subscriptions|unsubscribe`` and ``dokaz worker``."""

from __future__ import annotations

import signal
import uuid
from types import FrameType

import typer

from api.core.db import make_engine, unit_of_work
from api.core.logging import configure_logging
from api.core.settings import get_settings

jobs_app = typer.Typer(help="Background jobs and staff email notifications.",
                       no_args_is_help=True)


@jobs_app.command("list")
def jobs_list(
    status: str | None = typer.Option(None, help="queued, running, done or dead"),
    kind: str | None = typer.Option(None),
    limit: int = typer.Option(50, min=1, max=1000),
) -> None:
    """List jobs, newest first (payloads hold ids only)."""
    from api.core.errors import DokazError
    from api.jobs import service

    with unit_of_work(make_engine(get_settings())) as session:
        try:
            jobs = service.list_jobs(session, status=status, kind=kind, limit=limit)
        except DokazError as exc:
            typer.echo(exc.message, err=True)
            raise typer.Exit(code=2) from None
        for job in jobs:
            typer.echo(f"{job.id}  {job.status:<7}  {job.kind:<20}  attempts {job.attempts}/"
                       f"{job.max_attempts}  run_at {job.run_at:%Y-%m-%d %H:%M:%S}  "
                       f"error {job.last_error or '-'}")
        if not jobs:
            typer.echo("no jobs", err=True)


@jobs_app.command("retry")
def jobs_retry(job_id: uuid.UUID = typer.Argument(..., help="id of a dead job")) -> None:
    """Put a dead job back in the queue with a fresh set of attempts."""
    from api.core.errors import DokazError
    from api.jobs import service

    try:
        with unit_of_work(make_engine(get_settings())) as session:
            job = service.retry(session, job_id)
            typer.echo(f"{job.id} queued again ({job.kind})")
    except DokazError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(code=1) from None


@jobs_app.command("subscribe")
def jobs_subscribe(
    username: str = typer.Option(..., "--user", help="staff username"),
    email: str = typer.Option(..., help="where the content-free digest goes"),
    interval_minutes: int = typer.Option(60, min=5, max=7 * 24 * 60),
) -> None:
    """Send a staff member a digest of new, urgent and overdue case counts."""
    from sqlmodel import select

    from api.auth.models import StaffUser
    from api.jobs import service

    with unit_of_work(make_engine(get_settings())) as session:
        user = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
        if user is None:
            typer.echo("No staff member with this username.", err=True)
            raise typer.Exit(code=1)
        sub = service.subscribe(session, user.id, email, interval_minutes)
        typer.echo(f"subscription {sub.id}: every {interval_minutes} min to {email}")


@jobs_app.command("subscriptions")
def jobs_subscriptions() -> None:
    """List notification subscriptions."""
    from api.jobs import service

    with unit_of_work(make_engine(get_settings())) as session:
        for sub in service.list_subscriptions(session):
            typer.echo(f"{sub.id}  {sub.email}  every {sub.digest_interval_minutes} min  "
                       f"{'active' if sub.active else 'paused'}")


@jobs_app.command("unsubscribe")
def jobs_unsubscribe(subscription_id: uuid.UUID) -> None:
    """Delete a notification subscription."""
    from api.core.errors import DokazError
    from api.jobs import service

    try:
        with unit_of_work(make_engine(get_settings())) as session:
            service.unsubscribe(session, subscription_id)
    except DokazError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(code=1) from None


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
    """Add this feature's commands to the ``dokaz`` command line."""
    app.add_typer(jobs_app, name="jobs")
    app.command("worker")(worker)
