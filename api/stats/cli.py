"""``dokaz stats``: refresh the published release and set a partner's statistics policy."""

from __future__ import annotations

import uuid
from datetime import datetime

import typer

from api.core.cli import quiet_option


def _kept_message(release_id: uuid.UUID, published: datetime, due: datetime | None,
                  now: datetime, interval_hours: float) -> str:
    """Why ``refresh`` published nothing: said plainly, so an operator does not read the
    old release as a new one."""
    age = now - published
    hours, minutes = divmod(int(age.total_seconds()) // 60, 60)
    when = f"{due:%Y-%m-%d %H:%M} UTC" if due is not None else "now"
    return (f"nothing refreshed: the latest release {release_id} was published "
            f"{published:%Y-%m-%d %H:%M} UTC ({hours} h {minutes} min ago), and releases are "
            f"at least DOKAZ_STATS_RELEASE_INTERVAL_HOURS ({interval_hours:g} h) apart, so two "
            f"releases never differ by only a case or two. The next one is due at {when}; "
            "`dokaz stats refresh --force` publishes now.")


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the ``dokaz`` command line."""
    stats = typer.Typer(help="Anonymised partner statistics.", no_args_is_help=True)
    app.add_typer(stats, name="stats")

    @stats.command("refresh")
    def refresh_cmd(
        force: bool = typer.Option(False, help="publish even within the batching interval"),
        quiet: bool = quiet_option(),
    ) -> None:
        """Recount and protect every catalogue table (the refresh_stats job does this)."""
        import time

        from api.core.db import make_engine, unit_of_work
        from api.core.models import utcnow
        from api.core.progress import for_terminal
        from api.core.settings import get_settings
        from api.stats import service

        settings = get_settings()
        engine = make_engine(settings)
        started = time.perf_counter()
        timings: dict[str, float] = {}
        try:
            with for_terminal(quiet) as progress, unit_of_work(engine) as session:
                release = service.refresh(session, settings, force=force, timings=timings,
                                          progress=progress)
                due = service.next_release_due(release, settings)
        finally:
            engine.dispose()
        took = time.perf_counter() - started
        if not timings:  # within the batching interval: the latest release stands
            typer.echo(_kept_message(release.id, release.created_at, due, utcnow(),
                                     settings.stats_release_interval_hours))
            return
        typer.echo(f"release {release.id} published (cells under {release.min_cell} hidden) "
                   f"in {took:.1f} s: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))

    @stats.command("policy")
    def policy_cmd(
        partner_id: uuid.UUID = typer.Argument(..., help="the partner organisation's id"),
        mode: str = typer.Option("suppressed", help="'suppressed' or 'dp'"),
        epsilon_per_pull: float | None = typer.Option(None, help="DP: epsilon per pull"),
        epsilon_budget: float | None = typer.Option(None, help="DP: budget per period"),
        new_period: bool = typer.Option(False, help="start a fresh budget period"),
    ) -> None:
        """Set how a partner receives statistics (audited)."""
        from api.audit.service import record
        from api.core.db import make_engine, unit_of_work
        from api.core.errors import DokazError
        from api.core.settings import get_settings
        from api.partners import repository as partners
        from api.stats import service

        settings = get_settings()
        engine = make_engine(settings)
        try:
            with unit_of_work(engine) as session:
                if partners.get_partner(session, partner_id) is None:
                    raise typer.BadParameter("there is no partner with this id")
                service.set_policy(session, settings, partner_id, mode=mode,
                                   epsilon_per_pull=epsilon_per_pull,
                                   epsilon_budget=epsilon_budget, new_period=new_period,
                                   actor_id=None)
                record(session, action=service.POLICY_CHANGED, actor_id=None,
                       actor_kind="cli", target=str(partner_id),
                       details={"mode": mode, "new_period": new_period})
                status = service.budget_status(session, partner_id)
        except DokazError as exc:
            typer.echo(exc.message, err=True)
            raise typer.Exit(code=2) from None
        typer.echo(", ".join(f"{k}={v}" for k, v in status.items()))
