"""``dokaz keys``: the organisation's offline recovery key pair.

``dokaz keys grant`` is registered here by the cases feature that grants case access
(:mod:`api.cases.access.cli`).

The recovery private key is shown only on a terminal or written to a new file
(:mod:`api.keys.display`). The safest set-up never lets it touch the server:
``dokaz keys generate`` on an offline computer, then ``dokaz keys import-public``.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer
from sqlalchemy import Engine

from api.core.cli import prepare
from api.core.db import make_engine, unit_of_work
from api.core.errors import DokazError
from api.core.settings import Settings, get_settings
from api.keys import display
from api.keys.repository import active_recovery_key
from api.keys.service import (
    SETUP_HINT,
    create_recovery_key,
    fingerprint,
    import_recovery_public_key,
)
from crypto.errors import FormatError
from crypto.recovery import (
    format_recovery_public_key,
    generate_recovery_key,
    parse_recovery_key,
)

keys_app = typer.Typer(help="Organisation recovery key and key grants.", no_args_is_help=True)
log = logging.getLogger("dokaz.keys")

PROMPT_ATTEMPTS = 3  # the last one is checked by the command itself, which then exits
_OUTPUT_HELP = ("Write the private key to this new file (mode 0600; refused if it exists) "
                "instead of showing it on the terminal.")


def _refuse(exc: display.OutputRefused) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=2)


def _migrated(settings: Settings) -> None:
    prepare(settings)


def create_and_show(engine: Engine, output: Path | None) -> str | None:
    """Create the recovery key, write its private half to ``output`` or the terminal.

    The private text is written before the public half is committed, so a failed write
    stores nothing; returns the fingerprint, or None if a recovery key already exists.
    Raises :class:`display.OutputRefused` before creating anything.
    """
    with unit_of_work(engine) as session:
        if active_recovery_key(session) is not None:
            return None
    with display.PrivateKeyOutput(output) as out:
        with unit_of_work(engine) as session:
            key, private_text = create_recovery_key(session)
            fp = key.fingerprint
            out.write(private_text, fp)
        out.keep()
    return fp


@keys_app.command("init")
def keys_init(output: Path | None = typer.Option(None, "--output", help=_OUTPUT_HELP)) -> None:
    """Create the organisation recovery key pair on this server; show the private part once.

    Safer: `dokaz keys generate` on an offline computer and `dokaz keys import-public`.
    """
    settings = get_settings()
    _migrated(settings)
    engine = make_engine(settings)
    try:
        fp = create_and_show(engine, output)
    except display.OutputRefused as exc:
        raise _refuse(exc) from None
    except DokazError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    if fp is None:
        typer.echo("A recovery key already exists; nothing was changed.", err=True)
        raise typer.Exit(code=1)
    if output is not None:
        typer.echo(f"recovery private key written to {output}; fingerprint: {fp}")


@keys_app.command("generate")
def keys_generate(
    output: Path | None = typer.Option(None, "--output", help=_OUTPUT_HELP),
) -> None:
    """Make a recovery key pair on this computer (meant to be offline; no database or
    settings needed). Keep the private half; install the public one on the server with
    `dokaz keys import-public`."""
    try:
        with display.PrivateKeyOutput(output) as out:
            public, private_text = generate_recovery_key()
            fp = fingerprint(public)
            out.write(private_text, fp)
            out.keep()
    except display.OutputRefused as exc:
        raise _refuse(exc) from None
    if output is not None:
        typer.echo(f"recovery private key written to {output}")
    typer.echo("Public half (not secret). On the server, run:\n\n"
               f"  dokaz keys import-public {format_recovery_public_key(public)}\n\n"
               f"fingerprint: {fp}")


@keys_app.command("import-public")
def keys_import_public(
    key: str = typer.Argument(..., help="The DOKAZ-RP1-... text from `dokaz keys generate`."),
) -> None:
    """Install the recovery public key made offline; the private key never comes here."""
    settings = get_settings()
    _migrated(settings)
    engine = make_engine(settings)
    try:
        with unit_of_work(engine) as session:
            installed = import_recovery_public_key(session, key)
            fp = installed.fingerprint
    except DokazError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    typer.echo(f"recovery public key installed; fingerprint: {fp}\n"
               "Check it matches the fingerprint `dokaz keys generate` showed. "
               "Submissions are accepted from now on.")


def ensure_at_startup(settings: Settings) -> None:
    """`dokaz serve`: offer to create a missing recovery key, only to a person at a terminal.

    Otherwise (no terminal, or production) nothing is created: the log says what to run,
    never any key, and intake answers 503 until the key exists.
    """
    engine = make_engine(settings)
    try:
        with unit_of_work(engine) as session:
            if active_recovery_key(session) is not None:
                return
        if not settings.is_production and display.interactive():
            question = ("This installation has no organisation recovery key yet. Create it "
                        "now and show its private half once, on this terminal?")
            if typer.confirm(question, default=True):
                create_and_show(engine, None)
                return
        log.warning("no organisation recovery key: submissions are refused until one "
                    f"exists; {SETUP_HINT}")
    finally:
        engine.dispose()


@keys_app.command("show")
def keys_show() -> None:
    """Show the fingerprint of the active recovery public key."""
    with unit_of_work(make_engine(get_settings())) as session:
        key = active_recovery_key(session)
        if key is None:
            typer.echo(f"No recovery key yet: {SETUP_HINT}.", err=True)
            raise typer.Exit(code=1)
        created = f"{key.created_at:%Y-%m-%d}"
        typer.echo(f"recovery key fingerprint: {key.fingerprint} (created {created})")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


def read_recovery_key(from_stdin: bool) -> str:
    """The recovery private key as an operator gives it to a command: one line piped on
    stdin (``--recovery-key-stdin``), else typed at a prompt that does not echo it."""
    if from_stdin:
        return sys.stdin.readline().strip()
    # At the prompt a typing mistake is explained and the key asked for again, so an
    # operator reading 56 symbols off paper need not start the command over. The message
    # names groups, never symbols of the key.
    for _ in range(PROMPT_ATTEMPTS - 1):
        text = str(typer.prompt("Recovery key (DOKAZ-RK1-...)", hide_input=True))
        try:
            parse_recovery_key(text)
        except FormatError as exc:
            typer.echo(f"{exc}. Type it again.", err=True)
            continue
        return text
    return str(typer.prompt("Recovery key (DOKAZ-RK1-...)", hide_input=True))
