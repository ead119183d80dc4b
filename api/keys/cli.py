from __future__ import annotations

import sys

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


@keys_app.command("grant")
def keys_grant(
    username: str = typer.Option(..., help="The staff member or lawyer to grant cases to."),
    case: list[str] = typer.Option(
        [], "--case", help="A case id or reference (DKZ-...); repeat for several."
    ),
    all_cases: bool = typer.Option(False, "--all-cases", help="Every case with a recovery wrap."),
    recovery_key_stdin: bool = typer.Option(
        False, "--recovery-key-stdin", help="Read the recovery key from stdin (else prompt)."
    ),
) -> None:
    """Give a person access to existing cases, using the offline recovery key.

    Used for a new colleague, and after `dokaz users reset-password`. Each grant is
    audited. The recovery key is read into memory only and never stored.
    """
    import uuid

    from sqlmodel import col, select

    from api.auth.accounts import require_username
    from api.cases.models import Case
    from api.core.errors import DokazError
    from api.keys.service import grant_with_recovery_key

    if all_cases == bool(case):
        typer.echo("error: give either --case (one or more) or --all-cases", err=True)
        raise typer.Exit(code=2)
    if recovery_key_stdin:
        text = sys.stdin.readline().strip()
    else:
        text = str(typer.prompt("Recovery key (DOKAZ-RK1-...)", hide_input=True))
    engine = make_engine(get_settings())
    try:
        with unit_of_work(engine) as session:
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
                    found = session.exec(
                        select(Case.id).where(col(Case.reference) == ref.strip().upper())
                    ).first()
                    if found is None:
                        typer.echo(f"error: no case {ref!r}", err=True)
                        raise typer.Exit(code=1)
                    case_ids.append(found)
            result = grant_with_recovery_key(
                session, recovery_text=text, user_id=user.id, user_public_key=user.public_key,
                user_role=user.role, case_ids=case_ids,
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
    app.add_typer(keys_app, name="keys")
