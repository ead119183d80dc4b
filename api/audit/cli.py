"""``dokaz audit verify|export|checkpoint``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from api.audit import actions, export
from api.audit.service import checkpoint, record, verify_chain
from api.core.db import make_engine, unit_of_work
from api.core.settings import get_settings

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    expect: str | None = typer.Option(
        None, help="A head kept off the server, as SEQ:HASH (from `dokaz audit checkpoint`)."
    ),
) -> None:
    """Check the hash chain. Exit 1 and name the first bad entry if it is broken."""
    anchor: tuple[int, str] | None = None
    if expect:
        seq, _, digest = expect.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            typer.echo("error: --expect takes SEQ:HASH, e.g. 1042:3fa9...", err=True)
            raise typer.Exit(code=2)
        anchor = (int(seq), digest)
    engine = make_engine(get_settings())
    with unit_of_work(engine) as session:
        result = verify_chain(session, expect=anchor)
    engine.dispose()
    typer.echo(result.describe())
    if not result.ok:
        raise typer.Exit(code=1)


@audit_app.command("export")
def export_cmd(
    format: str = typer.Option("json", "--format", help="csv or json"),
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default stdout)."),
) -> None:
    """Write the whole log as CSV or JSON."""
    if format not in ("csv", "json"):
        typer.echo("error: --format must be csv or json", err=True)
        raise typer.Exit(code=2)
    engine = make_engine(get_settings())
    with unit_of_work(engine) as session:
        record(session, action=actions.AUDIT_EXPORTED, actor_id=None, actor_kind="cli",
               details={"format": format})
    out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        for chunk in export.stream(engine, "csv" if format == "csv" else "json"):
            out.write(chunk)
    finally:
        if output:
            out.close()
        engine.dispose()


@audit_app.command("checkpoint")
def checkpoint_cmd() -> None:
    """Record the chain head and print it; keep the printed line somewhere else too."""
    engine = make_engine(get_settings())
    with unit_of_work(engine) as session:
        record(session, action=actions.AUDIT_CHECKPOINT, actor_id=None, actor_kind="cli")
        cp = checkpoint(session)
        line = f"{cp.seq}:{cp.entry_hash}"
    engine.dispose()
    typer.echo(line)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
