"""``dokaz keys grant``: give a person existing cases with the offline recovery key.

The command sits under ``dokaz keys`` where operators look for it (beside the recovery
key it needs), but it grants case access, so it lives with the cases that own it and is
added to the keys command group by :func:`register`. The work is
:func:`api.cases.access.recovery.grant_with_recovery_key`.
"""

from __future__ import annotations

import uuid

import typer

from api.auth.accounts import require_username
from api.cases.access.recovery import grant_with_recovery_key
from api.cases.repository import case_id_by_reference
from api.core.cli import quiet_option
from api.core.db import make_engine, unit_of_work
from api.core.errors import DokazError
from api.core.progress import for_terminal
from api.core.settings import get_settings
from api.keys.cli import keys_app, read_recovery_key


def keys_grant(
    username: str = typer.Option(..., help="The staff member or lawyer to grant cases to."),
    case: list[str] = typer.Option(
        [], "--case", help="A case id or reference (DKZ-...); repeat for several."
    ),
    all_cases: bool = typer.Option(False, "--all-cases", help="Every case with a recovery wrap."),
    recovery_key_stdin: bool = typer.Option(
        False, "--recovery-key-stdin", help="Read the recovery key from stdin (else prompt)."
    ),
    quiet: bool = quiet_option(),
) -> None:
    """Give a person access to existing cases, using the offline recovery key.

    Used for a new colleague, and after `dokaz users reset-password`. Each grant is
    audited. The recovery key is read into memory only and never stored.
    """
    if all_cases == bool(case):
        typer.echo("error: give either --case (one or more) or --all-cases", err=True)
        raise typer.Exit(code=2)
    text = read_recovery_key(recovery_key_stdin)
    engine = make_engine(get_settings())
    try:
        with for_terminal(quiet) as progress, unit_of_work(engine) as session:
            user = require_username(session, username)
            if user.disabled_at is not None:
                typer.echo("error: this account is disabled; enable it first", err=True)
                raise typer.Exit(code=1)
            case_ids: list[uuid.UUID] | None = None
            if case:
                case_ids = []
                for ref in case:
                    try:
                        case_ids.append(uuid.UUID(ref))
                        continue
                    except ValueError:
                        pass
                    found = case_id_by_reference(session, ref)
                    if found is None:
                        typer.echo(f"error: no case {ref!r}", err=True)
                        raise typer.Exit(code=1)
                    case_ids.append(found)
            result = grant_with_recovery_key(
                session, recovery_text=text, user_id=user.id, user_public_key=user.public_key,
                user_role=user.role, case_ids=case_ids, progress=progress,
            )
    except DokazError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    typer.echo(f"granted {result.granted} case(s) to {username}")
    if result.without_recovery_wrap:
        typer.echo(f"{result.without_recovery_wrap} case(s) have no recovery wrap and were "
                   "skipped (shredded, or created without the recovery key).", err=True)


def register(app: typer.Typer) -> None:
    # ``app`` already holds the keys group (api.cli registers keys first).
    keys_app.command("grant")(keys_grant)
