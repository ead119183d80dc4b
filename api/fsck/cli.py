"""``dokaz fsck [--repair] [--grace-seconds N] [--json]``.

Exit codes: 0 nothing wrong, 1 problems found (listed by check, with counts and ids),
2 the check itself could not run (e.g. the database is unreachable).
"""

from __future__ import annotations

import json

import typer

from api.core.cli import quiet_option


def register(app: typer.Typer) -> None:
    @app.command("fsck")
    def fsck(
        repair: bool = typer.Option(
            False, help="Delete orphaned blobs, unfinished writes and stray probe files "
            "older than the grace period (the orphan sweep), then check."),
        grace_seconds: float | None = typer.Option(
            None, help="Age below which an unnamed blob counts as in flight "
            "(default: DOKAZ_ORPHAN_BLOB_MIN_AGE_HOURS). Use 0 only when no API "
            "process is running."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
        quiet: bool = quiet_option(),
    ) -> None:
        """Check database, blobs and key wraps against each other; exit 1 on problems."""
        from api.core.db import make_engine, unit_of_work
        from api.core.errors import DokazError
        from api.core.progress import for_terminal
        from api.core.settings import get_settings
        from api.fsck import service
        from api.storage import get_storage

        settings = get_settings()
        engine = make_engine(settings)
        options = service.default_options(settings, repair=repair, grace_seconds=grace_seconds)
        try:
            with for_terminal(quiet) as progress, unit_of_work(engine) as session:
                report = service.run(session, settings, get_storage(settings), options,
                                     progress=progress)
        except DokazError as exc:
            typer.echo(f"fsck could not run: {exc.message}", err=True)
            raise typer.Exit(code=2) from None
        finally:
            engine.dispose()
        if as_json:
            typer.echo(json.dumps(report.as_dict(), indent=2, sort_keys=True))
        else:
            for line in report.lines():
                typer.echo(line)
        if not report.ok:
            raise typer.Exit(code=1)
