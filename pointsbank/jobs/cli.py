"""``pointsbank jobs`` (what is scheduled, what is due, what ran) and ``pointsbank scheduler``."""

from __future__ import annotations

import logging
import sys
from datetime import datetime

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from pointsbank.jobs.guard import RunResult


def describe(result: RunResult, code: str | None = None) -> str:
    where = code or f"community {result.community_id}"
    text = f"{result.job:14} {where:12} {result.period:7} {result.outcome}"
    if result.attempt:
        text += f" (attempt {result.attempt})"
    if result.summary:
        text += " " + ", ".join(f"{k} {v}" for k, v in result.summary.items())
    if result.error:
        text += f": {result.error}"
    return text


def _cron_text(fields: dict) -> str:
    months = {"1,4,7,10": "1 Jan/Apr/Jul/Oct", 1: "1 Jan", "1": "1 Jan"}
    return f"{fields['hour']:02d}:{fields['minute']:02d} on {months.get(fields['month'], fields['month'])}"


def _next_fire(fields: dict, zone: str, now: datetime) -> str:
    from apscheduler.triggers.cron import CronTrigger

    moment = CronTrigger(timezone=zone, **fields).get_next_fire_time(None, now)
    return f"{moment:%Y-%m-%d %H:%M} {zone}" if moment else "—"


@click.command("jobs")
@click.option("--last", default=20, show_default=True, help="how many recent runs to list")
@with_appcontext
def jobs_command(last: int) -> None:
    """List the scheduled jobs, their next run, what is due now and the last runs."""
    from flask import current_app

    from pointsbank import clock
    from pointsbank.community.models import Community
    from pointsbank.extensions import db
    from pointsbank.jobs import runner
    from pointsbank.jobs.models import JobRun
    from pointsbank.jobs.registry import JOBS
    from pointsbank.jobs.scheduler import PRUNE_AT, VOUCHER_SWEEP_MINUTES

    now = clock.now()
    zones = sorted(set(db.session.scalars(sa.select(Community.timezone).distinct()))) or [
        current_app.config["TIMEZONE"]]
    click.echo(f"now: {now.isoformat()}")
    click.echo("Jobs (local time of each community):")
    for job in JOBS.values():
        for kind, fields in job.cron.items():
            nexts = ", ".join(_next_fire(fields, zone, now) for zone in zones)
            click.echo(f"  {job.name:14} per {kind:7} {_cron_text(fields):26} next {nexts}  — {job.title}")
    click.echo(f"  {'voucher_expiry':14} every {VOUCHER_SWEEP_MINUTES} minutes")
    prune = {"month": "*", **PRUNE_AT}
    click.echo(f"  {'throttle_prune':14} daily {PRUNE_AT['hour']:02d}:{PRUNE_AT['minute']:02d}  next "
               f"{_next_fire(prune, current_app.config['TIMEZONE'], now)}")
    codes = dict(db.session.execute(sa.select(Community.id, Community.code)).tuples().all())
    pending = runner.due(now)
    click.echo("Due now:" if pending else "Due now: nothing")
    for job, community, periods_due in pending:
        click.echo(f"  {job.name:14} {community.code:12} {', '.join(p.key for p in periods_due)}")
    runs = list(db.session.scalars(sa.select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(last)))
    click.echo("Last runs:" if runs else "Last runs: none yet")
    for run in runs:
        finished = f"{run.finished_at:%Y-%m-%d %H:%M}" if run.finished_at else "—"
        line = (f"  {finished:16} {run.job:14} {codes.get(run.community_id, run.community_id)!s:12} {run.period:7} "
                f"{run.status} (attempt {run.attempt})")
        if run.summary:
            line += " " + ", ".join(f"{k} {v}" for k, v in run.summary.items())
        if run.error:
            line += f": {run.error.splitlines()[0][:200]}"
        click.echo(line)


@click.command("scheduler")
@click.option("--once", is_flag=True, help="run everything that is due now (the catch-up pass) once, then exit")
@click.option("--tick", "tick_seconds", default=60, show_default=True, help="seconds between catch-up passes")
@with_appcontext
def scheduler_command(once: bool, tick_seconds: int) -> None:
    """Run the scheduled jobs (APScheduler) in the foreground; never inside web workers."""
    from flask import current_app

    from pointsbank.community.models import Community
    from pointsbank.extensions import db
    from pointsbank.jobs.scheduler import RoundScheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def report(result: RunResult) -> None:
        code = db.session.scalar(sa.select(Community.code).where(Community.id == result.community_id))
        click.echo(describe(result, code))

    scheduler = RoundScheduler(current_app._get_current_object(), tick_seconds=tick_seconds, report=report)
    if once:
        results = scheduler.run_once()
        click.echo(f"{len(results)} run(s)")
        sys.exit(1 if any(r.outcome == "failed" for r in results) else 0)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        click.echo("scheduler stopped")


commands = [jobs_command, scheduler_command]
