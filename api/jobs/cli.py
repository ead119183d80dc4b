"""``dokaz jobs list|retry``: the job queue from the command line."""

from __future__ import annotations

import uuid

import typer

from api.core.db import make_engine, unit_of_work
from api.core.settings import get_settings

jobs_app = typer.Typer(help="Background jobs: list and retry.",
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


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the ``dokaz`` command line."""
    app.add_typer(jobs_app, name="jobs")
