"""``pointsbank settle`` and ``pointsbank notice``: the quarterly round by hand, through the
same guarded runs as the scheduler (a period already done changes nothing)."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from pointsbank.errors import DomainError


def _run(period_key: str, community_code: str | None, *, notice: bool) -> None:
    from pointsbank import clock
    from pointsbank.community.models import Community
    from pointsbank.community.services import community_by_code
    from pointsbank.extensions import db
    from pointsbank.jobs.cli import describe
    from pointsbank.jobs.registry import job_for_period
    from pointsbank.jobs.runner import execute
    from pointsbank.reports import periods

    now = clock.now()
    try:
        period = periods.parse(period_key)
        if not notice and period.kind != "quarter":
            raise periods.InvalidPeriod(period=period_key)
        communities = [community_by_code(community_code)] if community_code else list(
            db.session.scalars(sa.select(Community).order_by(Community.id)))
        for community in communities:
            period.ensure_closed(community.timezone, now)
    except DomainError as error:
        click.echo(f"error: {error.code}: {error.render_message()}", err=True)
        sys.exit(1)
    job = job_for_period(period, notice=notice)
    targets = [(c.id, c.code) for c in communities]
    db.session.rollback()
    outcomes = []
    for community_id, code in targets:
        result = execute(job, community_id, period, now)
        outcomes.append(result.outcome)
        click.echo(describe(result, code))
    sys.exit(1 if any(o in ("failed", "busy") for o in outcomes) else 0)


@click.command("settle")
@click.option("--period", "period_key", required=True, help="a closed quarter, e.g. 2026Q3")
@click.option("--community", "community_code", help="only this community (default: every community)")
@with_appcontext
def settle_command(period_key: str, community_code: str | None) -> None:
    """Run the quarterly settlement now: draft statements per shop (a settled period changes nothing)."""
    _run(period_key, community_code, notice=False)


@click.command("notice")
@click.option("--period", "period_key", required=True, help="a closed quarter (2026Q3) or year (2026: best families)")
@click.option("--community", "community_code", help="only this community (default: every community)")
@with_appcontext
def notice_command(period_key: str, community_code: str | None) -> None:
    """Build and store the notice board of a closed quarter or year now (a published board never changes)."""
    _run(period_key, community_code, notice=True)


commands = [settle_command, notice_command]
