"""``dokaz audit verify|export|checkpoint``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from api.audit import actions, export
from api.audit.service import checkpoint, record, verify_chain
from api.audit.shipping import (
    Anchor,
    ShippedCheckpointsUnavailable,
    read_file,
    shipped_anchors,
)
from api.core.db import make_engine, unit_of_work
from api.core.settings import get_settings

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify(
    expect: str | None = typer.Option(
        None, help="A head kept off the server, as SEQ:HASH (from `dokaz audit checkpoint`)."
    ),
    checkpoints: list[Path] = typer.Option(
        [], "--checkpoints", exists=True, dir_okay=False, readable=True,
        help="A file of SEQ:HASH lines (saved checkpoint mails, downloaded checkpoint "
        "objects); may be given more than once.",
    ),
    shipped: bool = typer.Option(
        True, "--shipped/--no-shipped",
        help="Also read every checkpoint from DOKAZ_AUDIT_SHIP_S3_BUCKET (default when set).",
    ),
) -> None:
    """Check the hash chain against every checkpoint kept off the server.

    Exit 1 and name the first entry that no longer matches; exit 2 if the shipped
    checkpoints cannot be read (the log is then not called OK).
    """
    anchor: tuple[int, str] | None = None
    if expect:
        seq, _, digest = expect.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            typer.echo("error: --expect takes SEQ:HASH, e.g. 1042:3fa9...", err=True)
            raise typer.Exit(code=2)
        anchor = (int(seq), digest)
    settings = get_settings()
    try:
        lines: list[Anchor] = [a for path in checkpoints for a in read_file(path)]
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    if shipped:
        try:
            lines = shipped_anchors(settings, lines)
        except ShippedCheckpointsUnavailable as exc:
            typer.echo(f"error: {exc.message} ({exc.details.get('error_type')})", err=True)
            raise typer.Exit(code=2) from None
    engine = make_engine(settings)
    with unit_of_work(engine) as session:
        result = verify_chain(session, expect=anchor, anchors=lines,
                              max_unchained_age=settings.audit_chain_max_age_seconds)
    engine.dispose()
    typer.echo(result.describe())
    if result.ok and not result.anchors_matched and result.checked:
        # Not a failure (a new install ships its first checkpoint within one interval), but
        # the operator should know the result rests on the database alone.
        typer.echo("warning: no checkpoint kept off the server was compared; a rewritten log "
                   "would pass. Set DOKAZ_AUDIT_SHIP_S3_BUCKET or pass --checkpoints FILE.",
                   err=True)
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
