"""``dokaz partners ...``: partner organisations and their API keys."""

from __future__ import annotations

import uuid
from datetime import timedelta

import typer

from api.core.db import make_engine, unit_of_work
from api.core.errors import DokazError
from api.core.models import utcnow
from api.core.settings import get_settings
from api.partners import service

partners_app = typer.Typer(help="Partner organisations and API keys.", no_args_is_help=True)


def _fail(exc: DokazError) -> typer.Exit:
    typer.echo(f"error: {exc.message}", err=True)
    return typer.Exit(code=1)


@partners_app.command("create")
def create(name: str) -> None:
    """Add a partner organisation."""
    engine = make_engine(get_settings())
    try:
        with unit_of_work(engine) as session:
            partner = service.create_partner(session, name, actor_id=None, actor_kind="cli")
            pid = partner.id
    except DokazError as exc:
        raise _fail(exc) from None
    typer.echo(f"partner {name} created: {pid}")


@partners_app.command("create-key")
def create_key(
    partner: str = typer.Option(..., help="The partner's name."),
    name: str = typer.Option(..., help="A label for this key."),
    scope: list[str] = typer.Option(["stats:read"], help="Repeat for several scopes."),
    expires_days: int | None = typer.Option(365, help="Days until it expires; 0 for never."),
) -> None:
    """Create an API key and print it once."""
    now = utcnow()
    expires = now + timedelta(days=expires_days) if expires_days else None
    engine = make_engine(get_settings())
    try:
        with unit_of_work(engine) as session:
            new = service.create_key(session, service.find_partner(session, partner), name=name,
                                     scopes=scope, expires_at=expires, now=now, actor_id=None,
                                     actor_kind="cli")
            secret, key_id = new.secret, new.key.id
    except DokazError as exc:
        raise _fail(exc) from None
    typer.echo(f"key {key_id} (shown once; only a hash is kept):")
    typer.echo(secret)


@partners_app.command("list")
def list_all() -> None:
    """List partners and their keys."""
    engine = make_engine(get_settings())
    with unit_of_work(engine) as session:
        lines: list[str] = []
        for p in service.list_partners(session):
            lines.append(f"{p.name} ({p.id})")
            for k in service.list_keys(session, p.id):
                state = "revoked" if k.revoked_at else (
                    f"expires {k.expires_at:%Y-%m-%d}" if k.expires_at else "no expiry")
                lines.append(f"  {k.id} {k.prefix}... {k.name} [{k.scopes}] {state}")
    for line in lines or ["(no partners)"]:
        typer.echo(line)


@partners_app.command("revoke-key")
def revoke_key(key_id: uuid.UUID) -> None:
    """Revoke an API key at once."""
    engine = make_engine(get_settings())
    try:
        with unit_of_work(engine) as session:
            service.revoke_key(session, key_id, now=utcnow(), actor_id=None, actor_kind="cli")
    except DokazError as exc:
        raise _fail(exc) from None
    typer.echo(f"revoked {key_id}")


def register(app: typer.Typer) -> None:
    app.add_typer(partners_app, name="partners")
