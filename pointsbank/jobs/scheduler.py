"""``pointsbank scheduler``: APScheduler 3 in its own process, never inside web workers.

* Per time zone in use by a community, cron triggers for every periodic job (settlement and
  notice at 00:05 on the first day of a quarter, best families at 00:10 on 1 January, resets
  and expiry at 00:00 on the boundary), in that zone.
* A tick every ``tick_seconds`` (and once at start) runs the catch-up pass: any job whose
  period has closed without a completed run, so a server that was down at quarter end, or a
  community that was added since, catches up. The tick also adds triggers for new time zones.
* The notifications pass every ``NOTIFY_EVERY_SECONDS`` (``pointsbank.notify.jobs.run``: vouchers and
  reservations about to expire enqueued once each, then the due SMS sent with retries).
* The voucher-expiry sweep every 5 minutes (``pointsbank.redeem.jobs.expire_vouchers``, then the
  shelf's ``pointsbank.shelf.jobs.expire_reservations``) and
  the pruning of old throttle rows daily at 03:30 (``POINTSBANK_TIMEZONE``).

Two schedulers (or a scheduler and ``pointsbank settle``) may run at once: every periodic run
goes through the run guard, so each (job, community, period) happens once. "Now" comes from
``pointsbank.clock`` (``POINTSBANK_CLOCK`` freezes it) unless a ``now`` callable is injected.
Each execution runs in a fresh app context as its own unit of work.
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime
from typing import Any, Callable

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from pointsbank import clock
from pointsbank.jobs.guard import RunResult
from pointsbank.jobs.registry import JOBS

log = logging.getLogger(__name__)

VOUCHER_SWEEP_MINUTES = 5
PRUNE_AT = {"hour": 3, "minute": 30}


def sweep_vouchers(now: datetime) -> int | None:
    """Expire overdue vouchers, if the redeem package provides the sweep."""
    try:
        module = importlib.import_module("pointsbank.redeem.jobs")
    except ModuleNotFoundError:
        return None
    return module.expire_vouchers(now=now)


def sweep_reservations(now: datetime) -> int:
    """Give back the points and goods of overdue shelf reservations (``pointsbank.shelf.jobs``)."""
    from pointsbank.shelf.jobs import expire_reservations

    return expire_reservations(now=now)


def notify_pass(now: datetime) -> dict[str, Any]:
    """Expiring items told, due SMS sent (``pointsbank.notify.jobs``)."""
    from pointsbank.notify.jobs import run

    return run(now)


def prune_throttle() -> int:
    from pointsbank.auth import throttle
    from pointsbank.database import unit_of_work

    return unit_of_work(throttle.prune)()


class RoundScheduler:
    def __init__(self, app: Flask, *, now: Callable[[], datetime] | None = None, tick_seconds: int = 60,
                 report: Callable[[RunResult], None] | None = None) -> None:
        self.app = app
        self._now = now
        self.tick_seconds = tick_seconds
        self.report = report
        self.zones: set[str] = set()
        self.scheduler = BlockingScheduler(timezone="UTC", job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600})

    def now(self) -> datetime:
        if self._now is not None:
            return self._now()
        with self.app.app_context():
            return clock.now()

    # --- what runs ------------------------------------------------------------------------

    def _in_context(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.app.app_context():
            try:
                return fn(*args, **kwargs)
            except Exception:  # noqa: BLE001 - a job's failure must not stop the scheduler
                log.exception("scheduled %s failed", getattr(fn, "__name__", fn))
                return None

    def run_pending(self, jobs: list[str] | None = None, zone: str | None = None) -> list[RunResult]:
        """The catch-up pass (all jobs, or some; all communities, or those of one time zone)."""
        from pointsbank.jobs import runner

        def _pass() -> list[RunResult]:
            communities = None
            if zone is not None:
                communities = self._communities_in(zone)
            return runner.catch_up(self.now(), jobs=jobs, communities=communities, report=self.report)

        return self._in_context(_pass) or []

    def sweep(self) -> None:
        self._in_context(lambda: log.info("voucher sweep: %s expired", sweep_vouchers(self.now())))
        self._in_context(lambda: log.info("reservation sweep: %s expired", sweep_reservations(self.now())))

    def notify(self) -> None:
        self._in_context(lambda: log.info("notifications: %s", notify_pass(self.now())))

    def prune(self) -> None:
        self._in_context(lambda: log.info("throttle prune: %s rows", prune_throttle()))

    def tick(self) -> list[RunResult]:
        self._in_context(self.refresh_zones)
        return self.run_pending()

    def run_once(self) -> list[RunResult]:
        """Everything that is due now, once (``pointsbank scheduler --once``)."""
        results = self.run_pending()
        self.sweep()
        self.notify()
        return results

    # --- triggers -------------------------------------------------------------------------

    @staticmethod
    def _communities_in(zone: str) -> list[int]:
        import sqlalchemy as sa

        from pointsbank.community.models import Community
        from pointsbank.extensions import db

        return list(db.session.scalars(sa.select(Community.id).where(Community.timezone == zone)))

    def refresh_zones(self) -> None:
        """Cron triggers for every time zone a community uses (new ones added as they appear)."""
        import sqlalchemy as sa

        from pointsbank.community.models import Community
        from pointsbank.extensions import db

        zones = set(db.session.scalars(sa.select(Community.timezone).distinct()))
        for zone in sorted(zones - self.zones):
            for job in JOBS.values():
                for kind, fields in job.cron.items():
                    self.scheduler.add_job(self.run_pending, CronTrigger(timezone=zone, **fields),
                                           kwargs={"jobs": [job.name], "zone": zone},
                                           id=f"{job.name}:{kind}@{zone}", replace_existing=True)
        self.zones |= zones

    def configure(self) -> None:
        self.scheduler.add_job(self.tick, IntervalTrigger(seconds=self.tick_seconds), id="catch_up",
                               replace_existing=True)
        self.scheduler.add_job(self.sweep, IntervalTrigger(minutes=VOUCHER_SWEEP_MINUTES), id="voucher_expiry",
                               replace_existing=True)
        self.scheduler.add_job(self.notify, IntervalTrigger(seconds=int(self.app.config["NOTIFY_EVERY_SECONDS"])),
                               id="notifications", replace_existing=True)
        self.scheduler.add_job(self.prune, CronTrigger(timezone=self.app.config["TIMEZONE"], **PRUNE_AT),
                               id="throttle_prune", replace_existing=True)
        self._in_context(self.refresh_zones)

    def start(self) -> None:
        """Catch up once, then block running the triggers until interrupted."""
        self.configure()
        self.tick()
        self.scheduler.start()
