"""The run guard: a periodic job runs at most once per (job, community, period).

``run_guarded("settlement", community_id, "2026Q2", work)`` runs inside the caller's unit of
work (one database transaction) and:

1. takes a transaction-scoped advisory lock on the key (PostgreSQL
   ``pg_try_advisory_xact_lock``; on SQLite the ``BEGIN IMMEDIATE`` write transaction already
   serialises every writer) — if another process holds it the answer is ``busy`` and nothing
   is done;
2. loads the :class:`~pointsbank.jobs.models.JobRun`; ``completed`` → ``already_completed``,
   nothing is done (safe to run twice, from two schedulers, a CLI and the API);
3. otherwise inserts it (or takes over a ``failed`` one, ``attempt + 1``) as ``running``, calls
   ``work()`` and marks it ``completed`` with the work's summary.

The job-run row and the job's statements commit atomically: there is never a committed
``completed`` run without its work, nor work without its run.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from pointsbank import clock
from pointsbank.database import is_postgresql, unit_of_work
from pointsbank.extensions import db
from pointsbank.jobs.models import JobRun

log = logging.getLogger(__name__)

OUTCOMES = ("completed", "already_completed", "busy", "failed")


@dataclass
class RunResult:
    job: str
    community_id: int
    period: str
    #: completed (this call did the work), already_completed, busy (another process), failed
    outcome: str
    summary: dict[str, Any] = field(default_factory=dict)
    attempt: int = 0
    error: str | None = None


def lock_key(job: str, community_id: int, period: str) -> int:
    """A signed 64-bit key for PostgreSQL's advisory locks."""
    digest = hashlib.blake2b(f"pointsbank:{job}:{community_id}:{period}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def try_lock(job: str, community_id: int, period: str) -> bool:
    """The transaction's advisory lock on the key, if free (always true on SQLite)."""
    if not is_postgresql():
        return True
    return bool(db.session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(lock_key(job, community_id, period)))))


def _load(job: str, community_id: int, period: str) -> JobRun | None:
    return db.session.scalar(sa.select(JobRun).where(
        JobRun.job == job, JobRun.community_id == community_id, JobRun.period == period,
    ).execution_options(populate_existing=True))


def run_guarded(job: str, community_id: int, period: str, work: Callable[[], dict[str, Any]]) -> RunResult:
    """Run ``work`` once for the key, in the caller's transaction (see the module docstring)."""
    if not try_lock(job, community_id, period):
        return RunResult(job, community_id, period, "busy")
    run = _load(job, community_id, period)
    if run is not None and run.status == "completed":
        return RunResult(job, community_id, period, "already_completed", dict(run.summary or {}), run.attempt)
    now = clock.now()
    if run is None:
        run = JobRun(job=job, community_id=community_id, period=period, status="running", attempt=1, started_at=now)
        db.session.add(run)
    else:
        run.status, run.attempt, run.started_at, run.finished_at, run.error = "running", run.attempt + 1, now, None, None
    db.session.flush()
    summary = work()
    run.status, run.finished_at, run.summary = "completed", clock.now(), summary
    db.session.flush()
    return RunResult(job, community_id, period, "completed", summary, run.attempt)


def record_failure(job: str, community_id: int, period: str, error: BaseException) -> int | None:
    """After a run's transaction rolled back: keep a ``failed`` row (its own transaction) so the
    next run resumes it and ``pointsbank jobs`` shows why. The attempt number, or None when
    another process holds the job (it will record its own outcome)."""

    def _record() -> int | None:
        if not try_lock(job, community_id, period):
            return None
        run = _load(job, community_id, period)
        text = f"{type(error).__name__}: {error}"[:4000]
        if run is None:
            run = JobRun(job=job, community_id=community_id, period=period, status="failed", attempt=1,
                         started_at=clock.now())
            db.session.add(run)
        elif run.status == "completed":
            return run.attempt
        else:
            run.status, run.attempt = "failed", run.attempt + 1
        run.finished_at, run.error = clock.now(), text
        db.session.flush()
        return run.attempt

    try:
        return unit_of_work(_record)()
    except sa_exc.SQLAlchemyError:  # the database is what failed; the log is all we can keep
        log.exception("could not record the failure of %s %s for community %s", job, period, community_id)
        return None
