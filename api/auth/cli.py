"""``dokaz users ...``: create and administer staff accounts from the server's shell.

The first admin is created here (``dokaz users create --role admin --username NAME
--password-stdin``), and so is the first coordinator (``--role coordinator``). Changes made
here are audited with actor "cli" and need no second person: whoever runs them has the
server's shell, which the two-person rule (api.approvals) cannot and does not try to bind.
Accounts made here are approved readers at once; through the API they never are, and a
coordinator role, intake duty or case grant asked for there waits for a coordinator.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from sqlmodel import Session

from api.auth import accounts, repository
from api.auth.accounts import CLI
from api.auth.roles import parse_account_role
from api.core.db import make_engine, unit_of_work
from api.core.errors import DokazError
from api.core.models import utcnow
from api.core.settings import Settings, get_settings

users_app = typer.Typer(help="Staff accounts: create, list, disable, reset TOTP.",
                        no_args_is_help=True)
T = TypeVar("T")


@contextmanager
def _session() -> Iterator[tuple[Session, Settings]]:
    settings = get_settings()
    engine = make_engine(settings)
    try:
        with unit_of_work(engine) as session:
            yield session, settings
    except DokazError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()


def read_secret(from_stdin: bool, prompt: str, *, confirm: bool = True) -> str:
    """A password or key from stdin (first line) or an interactive hidden prompt."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            typer.echo("error: nothing was given on standard input", err=True)
            raise typer.Exit(code=1)
        return value
    value = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return str(value)


def _print_totp(uri: str) -> None:
    typer.echo("TOTP provisioning URI (shown once; add it to the person's authenticator app,")
    typer.echo("for example by turning it into a QR code on an offline machine):")
    typer.echo(uri)


@users_app.command("create")
def create(
    role: str = typer.Option(..., help="admin, coordinator, caseworker or lawyer"),
    username: str = typer.Option(...),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the initial password from stdin."),
    intake_duty: bool = typer.Option(False, "--intake-duty", help="Put on intake duty."),
) -> None:
    """Create an account and print its TOTP provisioning URI once."""
    try:
        parsed = parse_account_role(role)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    password = read_secret(password_stdin, "Initial password")
    with _session() as (session, settings):
        new = accounts.create_user(session, settings, username=username, role=parsed,
                                   password=password, on_intake_duty=intake_duty,
                                   actor=CLI, now=utcnow())
        name, uri = new.user.username, new.provisioning_uri
    typer.echo(f"created {parsed.value} {name}")
    _print_totp(uri)


@users_app.command("list")
def list_users() -> None:
    """List accounts: username, role, intake duty, state, reader approval."""
    with _session() as (session, _):
        users = repository.list_staff(session)
        lines = [
            f"{u.username:<24} {u.role:<12} {'on-duty' if u.on_intake_duty else '-':<8} "
            f"{'disabled' if u.disabled_at else 'active'}"
            f"{'' if u.reader_approved_on else ' (not an approved reader)'}"
            for u in users
        ]
    for line in lines or ["(no accounts yet: dokaz users create --role admin ...)"]:
        typer.echo(line)


def _change(change: Callable[[Session, Settings], T]) -> T:
    with _session() as (session, settings):
        return change(session, settings)


@users_app.command("disable")
def disable(username: str) -> None:
    """Disable an account and end its sessions."""
    _change(lambda s, _: accounts.disable_user(
        s, accounts.require_username(s, username), actor=CLI, now=utcnow()))
    typer.echo(f"disabled {username}")


@users_app.command("enable")
def enable(username: str) -> None:
    _change(lambda s, _: accounts.enable_user(
        s, accounts.require_username(s, username), actor=CLI, now=utcnow()))
    typer.echo(f"enabled {username}")


@users_app.command("set-role")
def set_role(username: str, role: str) -> None:
    """Change an account's role (audited)."""
    try:
        parsed = parse_account_role(role)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    _change(lambda s, _: accounts.set_role(
        s, accounts.require_username(s, username), parsed, actor=CLI))
    typer.echo(f"{username} is now {parsed.value}")


@users_app.command("set-duty")
def set_duty(username: str, on: bool = typer.Option(..., "--on/--off")) -> None:
    """Put a coordinator or caseworker on or off intake duty."""
    _change(lambda s, _: accounts.set_intake_duty(
        s, accounts.require_username(s, username), on, actor=CLI))
    typer.echo(f"{username} intake duty {'on' if on else 'off'}")


@users_app.command("reset-totp")
def reset_totp(username: str) -> None:
    """Issue a new TOTP secret (lost phone) and print its URI once."""
    new = _change(lambda s, st: accounts.reset_totp(
        s, st, accounts.require_username(s, username), actor=CLI, now=utcnow()))
    _print_totp(new.provisioning_uri)


@users_app.command("reset-password")
def reset_password(
    username: str,
    password_stdin: bool = typer.Option(False, "--password-stdin"),
) -> None:
    """Forgotten password: set a new one with a NEW key pair.

    Cases wrapped to the old key cannot be opened any more; re-grant them afterwards
    with `dokaz keys grant --username NAME ...` and the offline recovery key.
    """
    password = read_secret(password_stdin, "New password")
    dropped = _change(lambda s, st: accounts.reset_password(
        s, st, accounts.require_username(s, username), password, actor=CLI, now=utcnow()))
    typer.echo(f"password reset for {username}; {dropped} case key wraps dropped.")
    if dropped:
        typer.echo(f"Re-grant cases with: dokaz keys grant --username {username} --all-cases")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
