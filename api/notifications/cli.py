"""``dokaz notifications subscribe|subscriptions|unsubscribe``: staff email digests."""

from __future__ import annotations

import uuid

import typer

from api.core.db import make_engine, unit_of_work
from api.core.errors import DokazError
from api.core.settings import get_settings

notifications_app = typer.Typer(help="Staff email notifications (content-free digests).",
                                no_args_is_help=True)


@notifications_app.command("subscribe")
def subscribe(
    username: str = typer.Option(..., "--user", help="staff username"),
    email: str = typer.Option(..., help="where the content-free digest goes"),
    interval_minutes: int = typer.Option(60, min=5, max=7 * 24 * 60),
) -> None:
    """Send a staff member a digest of new, urgent and overdue case counts."""
    from api.notifications import service

    try:
        with unit_of_work(make_engine(get_settings())) as session:
            sub = service.subscribe_by_username(session, username, email, interval_minutes)
            typer.echo(f"subscription {sub.id}: every {interval_minutes} min to {email}")
    except DokazError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(code=1) from None


@notifications_app.command("subscriptions")
def subscriptions() -> None:
    """List notification subscriptions."""
    from api.notifications import service

    with unit_of_work(make_engine(get_settings())) as session:
        for sub in service.list_subscriptions(session):
            typer.echo(f"{sub.id}  {sub.email}  every {sub.digest_interval_minutes} min  "
                       f"{'active' if sub.active else 'paused'}")


@notifications_app.command("unsubscribe")
def unsubscribe(subscription_id: uuid.UUID) -> None:
    """Delete a notification subscription."""
    from api.notifications import service

    try:
        with unit_of_work(make_engine(get_settings())) as session:
            service.unsubscribe(session, subscription_id)
    except DokazError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(code=1) from None


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the ``dokaz`` command line."""
    app.add_typer(notifications_app, name="notifications")
