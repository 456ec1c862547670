"""Running jobs: one guarded unit of work per (job, community, period), and the catch-up pass.

``execute("settlement", community_id, period)`` is what the scheduler, ``pointsbank settle``
and ``pointsbank notice`` call: the job's work and its run record commit together; if the work
raises, the transaction rolls back and a ``failed`` run is recorded in its own transaction.

``catch_up(now)`` runs every due period (see :mod:`registry`) of every community, oldest
first; within one job and community it stops at the first period that fails or is busy, so
periods are always done in order. A failed period is retried after a back-off that grows
with its attempts (5 minutes, doubling, at most 6 hours).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable, Iterable

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.community.models import Community
from pointsbank.database import unit_of_work
from pointsbank.errors import DomainError
from pointsbank.extensions import db
from pointsbank.jobs.guard import RunResult, record_failure, run_guarded
from pointsbank.jobs.models import JobRun
from pointsbank.jobs.registry import JOBS, PeriodicJob
from pointsbank.reports import periods

log = logging.getLogger(__name__)


def backoff(attempt: int) -> timedelta:
    return min(timedelta(minutes=5) * 2 ** max(0, attempt - 1), timedelta(hours=6))


def execute(job: PeriodicJob | str, community_id: int, period: periods.Period,
            now: datetime | None = None) -> RunResult:
    """Run one job for one community and period as its own unit of work."""
    job = JOBS[job] if isinstance(job, str) else job
    moment = now or clock.now()
    try:
        result = unit_of_work(run_guarded)(job.name, community_id, period.key,
                                           lambda: job.work(community_id, period, moment))
    except Exception as error:  # noqa: BLE001 - any failure of a job is recorded, then reported
        attempt = record_failure(job.name, community_id, period.key, error)
        message = error.render_message() if isinstance(error, DomainError) else f"{type(error).__name__}: {error}"
        log.exception("%s %s for community %s failed", job.name, period.key, community_id)
        return RunResult(job.name, community_id, period.key, "failed", attempt=attempt or 0, error=message)
    log.info("%s %s for community %s: %s %s", job.name, period.key, community_id, result.outcome, result.summary)
    return result


def due(now: datetime, *, jobs: Iterable[str] | None = None,
        communities: Iterable[int] | None = None) -> list[tuple[PeriodicJob, Community, list[periods.Period]]]:
    """(job, community, periods to run, oldest first) for everything due at ``now``."""
    selected = [JOBS[name] for name in (jobs or JOBS)]
    stmt = sa.select(Community).order_by(Community.id)
    if communities is not None:
        stmt = stmt.where(Community.id.in_(list(communities)))
    plan = []
    for community in db.session.scalars(stmt):
        for job in selected:
            candidates = job.due_periods(community, now)
            if candidates:
                plan.append((job, community, candidates))
    if not plan:
        return []
    keys = {p.key for _, _, candidates in plan for p in candidates}
    runs = {(r.job, r.community_id, r.period): r for r in db.session.scalars(
        sa.select(JobRun).where(JobRun.job.in_([j.name for j in selected]), JobRun.period.in_(keys)))}
    result = []
    for job, community, candidates in plan:
        pending = []
        for period in candidates:
            run = runs.get((job.name, community.id, period.key))
            if run is not None and run.status == "completed":
                continue
            if run is not None and run.status == "failed" and run.finished_at and \
                    run.finished_at + backoff(run.attempt) > now:
                break  # wait for the back-off; later periods wait for this one
            pending.append(period)
        if pending:
            result.append((job, community, pending))
    return result


def catch_up(now: datetime | None = None, *, jobs: Iterable[str] | None = None,
             communities: Iterable[int] | None = None,
             report: Callable[[RunResult], None] | None = None) -> list[RunResult]:
    """Run every due job; the results, in the order they ran."""
    moment = now or clock.now()
    plan = [(job, community.id, pending) for job, community, pending in due(moment, jobs=jobs, communities=communities)]
    db.session.rollback()  # end the read transaction before the runs take their locks
    results = []
    for job, community_id, pending in plan:
        for period in pending:
            result = execute(job, community_id, period, moment)
            results.append(result)
            if report is not None:
                report(result)
            if result.outcome in ("failed", "busy"):
                break
    return results
