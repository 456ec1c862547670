"""The periodic jobs of the quarterly round, and which of their periods are due.

Each job runs per community and per period of the community's calendar, at a local time
(cron fields in the community's time zone), and is due for every period that has closed
since the community existed (or since it chose its reset policy), within a look-back of two
years, without a completed run. Resets and expiry apply only to communities that chose them.

| job | period | local time |
| --- | --- | --- |
| ``settlement`` | quarter | 00:05 on 1 Jan/Apr/Jul/Oct |
| ``notice`` | quarter | 00:05 on 1 Jan/Apr/Jul/Oct |
| ``best_families`` | year | 00:10 on 1 Jan |
| ``reset`` | quarter or year (the community's choice) | 00:00 on the first day of the next period |
| ``expiry`` | year | 00:00 on 1 Jan |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from pointsbank.community.models import Community
from pointsbank.reports import periods

#: how far back the catch-up looks for closed periods without a completed run
LOOKBACK = timedelta(days=2 * 366)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    title: str
    #: the period kind for a community, or None when the job does not apply to it
    kind_for: Callable[[Community], str | None]
    #: APScheduler cron fields per period kind, in the community's time zone
    cron: dict[str, dict[str, Any]]
    work: Callable[[int, periods.Period, datetime], dict[str, Any]]
    #: the policy's own start (resets): periods ending before it are not due
    since: Callable[[Community], datetime | None] = lambda community: None

    def due_periods(self, community: Community, now: datetime) -> list[periods.Period]:
        kind = self.kind_for(community)
        if kind is None:
            return []
        start = max(d for d in (community.created_at, self.since(community), now - LOOKBACK) if d is not None)
        return periods.closed_between(kind, community.timezone, start, now)


QUARTERLY = {"month": "1,4,7,10", "day": 1, "hour": 0, "minute": 5}


def _settle(community_id: int, period: periods.Period, now: datetime) -> dict[str, Any]:
    from pointsbank.reports.settlement import settle

    return settle(community_id, period, now)


def _notice(community_id: int, period: periods.Period, now: datetime) -> dict[str, Any]:
    from pointsbank.reports.notice import publish

    return publish(community_id, period, now)


def _reset(community_id: int, period: periods.Period, now: datetime) -> dict[str, Any]:
    from pointsbank.reports.resets import reset_balances

    return reset_balances(community_id, period, now)


def _expire(community_id: int, period: periods.Period, now: datetime) -> dict[str, Any]:
    from pointsbank.reports.resets import expire_points

    return expire_points(community_id, period, now)


def _reset_kind(community: Community) -> str | None:
    return community.points_reset if community.points_reset in ("quarter", "year") else None


def _expiry_kind(community: Community) -> str | None:
    return "year" if community.points_reset == "expire" and community.points_expire_years else None


def _policy_since(community: Community) -> datetime | None:
    return community.points_policy_since


JOBS: dict[str, PeriodicJob] = {job.name: job for job in (
    PeriodicJob("settlement", "settlement statements per shop", lambda c: "quarter", {"quarter": QUARTERLY}, _settle),
    PeriodicJob("notice", "the quarter's notice board", lambda c: "quarter", {"quarter": QUARTERLY}, _notice),
    PeriodicJob("best_families", "the year's notice board and best families", lambda c: "year",
                {"year": {"month": 1, "day": 1, "hour": 0, "minute": 10}}, _notice),
    PeriodicJob("reset", "balances back to the base", _reset_kind,
                {"quarter": {"month": "1,4,7,10", "day": 1, "hour": 0, "minute": 0},
                 "year": {"month": 1, "day": 1, "hour": 0, "minute": 0}}, _reset, _policy_since),
    PeriodicJob("expiry", "points older than the community's limit lapse", _expiry_kind,
                {"year": {"month": 1, "day": 1, "hour": 0, "minute": 0}}, _expire, _policy_since),
)}


def job_named(name: str) -> PeriodicJob:
    return JOBS[name]


def job_for_period(period: periods.Period, *, notice: bool = False) -> PeriodicJob:
    """``settle``/``notice`` commands: the job that produces a period's statements or board."""
    if notice:
        return JOBS["notice" if period.kind == "quarter" else "best_families"]
    return JOBS["settlement"]
