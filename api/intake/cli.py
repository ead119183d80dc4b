"""``dokaz intake backfill-statements``: existing cases get their reports' statements."""

from __future__ import annotations

import typer

from api.core.db import make_engine, unit_of_work
from api.core.errors import DokazError
from api.core.settings import get_settings
from api.intake.backfill import backfill
from api.keys.cli import read_recovery_key


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the ``dokaz`` command line."""
    intake = typer.Typer(help="Intake: reports and what they state.", no_args_is_help=True)
    app.add_typer(intake, name="intake")

    @intake.command("backfill-statements")
    def backfill_cmd(
        recovery_key_stdin: bool = typer.Option(
            False, "--recovery-key-stdin", help="Read the recovery key from stdin (else prompt)."
        ),
    ) -> None:
        """Write what the reports of cases received before intake statements state into
        their metadata (persons, acts, consents, marked "as reported at intake"), using the
        offline recovery key. Cases that have intake statements are skipped."""
        text = read_recovery_key(recovery_key_stdin)
        engine = make_engine(get_settings())
        try:
            with unit_of_work(engine) as session:
                result = backfill(session, text)
        except DokazError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(code=1) from None
        finally:
            engine.dispose()
        typer.echo(f"{result.cases} case(s) given the statements of {result.reports} "
                   f"report(s); {result.unreadable} report(s) left for a caseworker; "
                   f"{result.without_key} case(s) without a recovery wrap")
