"""The run guard: a periodic job runs at most once per (job, community, period).

``run_guarded("settlement", community_id, "2026Q2", work)`` runs inside the caller's unit of
work (one database transaction) and:

1. takes a transaction-scoped advisory lock on the key (PostgreSQL
   ``pg_try_advisory_xact_lock``; on SQLite the ``BEGIN IMMEDIATE`` write transaction already
   serialises every writer) — if another process holds it the answer is ``busy`` and nothing
   is done;
2. claims the :class:`~pointsbank.jobs.models.JobRun` as ``running`` in one upsert: a new row
   (attempt 1), or a ``failed`` one taken over (``attempt + 1``); a ``completed`` row is left
   alone and the answer is ``already_completed``, nothing is done (safe to run twice, from two
   schedulers, a CLI and the API);
3. calls ``work()`` and marks the run ``completed`` with the work's summary.

``run_guarded_many("settlement", [1, 2, …], "2026Q2", work)`` is the same for many communities
in a fixed number of statements (``run_guarded`` is it with one): every lock in one query,
every claim in one upsert, one ``work(claimed_ids)`` for the communities claimed, every
completion in one ``UPDATE`` (executemany); each community gets its own outcome.

The job-run row and the job's statements commit atomically: there is never a committed
``completed`` run without its work, nor work without its run.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pointsbank import clock
from pointsbank.database import is_postgresql, unit_of_work
from pointsbank.extensions import db
from pointsbank.jobs.models import JobRun

log = logging.getLogger(__name__)

OUTCOMES = ("completed", "already_completed", "busy", "failed")
RUNS = JobRun.__table__


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
    return community_id in try_locks(job, [community_id], period)


def try_locks(job: str, community_ids: Sequence[int], period: str) -> set[int]:
    """The communities whose key's advisory lock this transaction took (the free ones), in one
    query (all of them on SQLite)."""
    if not is_postgresql() or not community_ids:
        return set(community_ids)
    keys = sa.values(sa.column("community_id", sa.BigInteger), sa.column("key", sa.BigInteger), name="keys").data(
        [(cid, lock_key(job, cid, period)) for cid in community_ids])
    return {cid for cid, locked in db.session.execute(
        sa.select(keys.c.community_id, sa.func.pg_try_advisory_xact_lock(keys.c.key))) if locked}


def _load(job: str, community_id: int, period: str) -> JobRun | None:
    return db.session.scalar(sa.select(JobRun).where(
        JobRun.job == job, JobRun.community_id == community_id, JobRun.period == period,
    ).execution_options(populate_existing=True))


def run_guarded(job: str, community_id: int, period: str, work: Callable[[], dict[str, Any]]) -> RunResult:
    """Run ``work`` once for the key, in the caller's transaction (see the module docstring)."""
    (result,) = run_guarded_many(job, [community_id], period, lambda claimed: {community_id: work()})
    return result


def run_guarded_many(job: str, community_ids: Sequence[int], period: str,
                     work: Callable[[list[int]], dict[int, dict[str, Any]]]) -> list[RunResult]:
    """:func:`run_guarded` for several communities at once, in a fixed number of statements
    whatever their number: their locks in one, the claim of their job-run rows in one, then
    ``work(claimed)`` once for the communities this call claimed (not at all when none), which
    answers each one's summary, and their completion in one. A community whose lock another
    process holds is ``busy``, one completed before is ``already_completed``, both untouched.
    One result per community, in the order given (duplicates counted once)."""
    ids = list(dict.fromkeys(community_ids))
    locked = try_locks(job, ids, period)
    results = {cid: RunResult(job, cid, period, "busy") for cid in ids if cid not in locked}
    claimed = _claim(job, [cid for cid in ids if cid in locked], period)
    done = [cid for cid in ids if cid in locked and cid not in claimed]
    if done:
        for cid, attempt, summary in db.session.execute(sa.select(RUNS.c.community_id, RUNS.c.attempt, RUNS.c.summary)
                                                        .where(RUNS.c.job == job, RUNS.c.period == period,
                                                               RUNS.c.community_id.in_(done))):
            results[cid] = RunResult(job, cid, period, "already_completed", dict(summary or {}), attempt)
    if claimed:
        summaries = work(list(claimed))
        db.session.execute(
            sa.update(RUNS).where(RUNS.c.job == job, RUNS.c.period == period,
                                  RUNS.c.community_id == sa.bindparam("run_community_id"))
            .values(status="completed", finished_at=clock.now(), summary=sa.bindparam("run_summary")),
            [{"run_community_id": cid, "run_summary": summaries[cid]} for cid in claimed])
        for cid, attempt in claimed.items():
            results[cid] = RunResult(job, cid, period, "completed", summaries[cid], attempt)
    return [results[cid] for cid in ids]


def _claim(job: str, community_ids: list[int], period: str) -> dict[int, int]:
    """Mark the communities' runs ``running`` in one statement: a new row (attempt 1), or a
    failed one taken over (``attempt + 1``); a completed row is left alone (not returned).
    The attempt of each one claimed, in the order given. The caller holds their locks."""
    if not community_ids:
        return {}
    now = clock.now()
    insert = (pg_insert if is_postgresql() else sqlite_insert)(RUNS)
    stmt = insert.values([{"job": job, "community_id": cid, "period": period, "status": "running", "attempt": 1,
                           "started_at": now} for cid in community_ids])
    stmt = stmt.on_conflict_do_update(
        index_elements=[RUNS.c.job, RUNS.c.community_id, RUNS.c.period],
        set_={"status": "running", "attempt": RUNS.c.attempt + 1, "started_at": stmt.excluded.started_at,
              "finished_at": None, "error": None},
        where=RUNS.c.status != "completed").returning(RUNS.c.community_id, RUNS.c.attempt)
    attempts = dict(db.session.execute(stmt).tuples().all())
    return {cid: attempts[cid] for cid in community_ids if cid in attempts}


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
