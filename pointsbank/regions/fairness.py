"""Fair scoring (人情分): who records what for whom, in a period of one community.

Per recorder, over the records they entered in the period that were posted (``posted``,
``objected``, ``upheld``, ``reversed``; pending and rejected ones never moved points):

* ``records`` and ``points`` (the points that still count: a reversed record counts nothing);
* ``top_households_share`` — the share of their points (in absolute value) that went to their
  ``TOP`` households: 1.0 when everything went to three families;
* ``own_grid_share`` — the share of their records for households in their own grids (the grids
  a grid worker looks after, and the grid of their own household); ``None`` without a grid;
* ``outside_hours_share`` — the share entered outside working hours (before 08:00 or from 18:00,
  in the community's time zone).

Households with **unusually many records**: at least ``MIN_FLAGGED`` records and more than the
mean plus two standard deviations of the records per household over every household of the
community (those without records count as 0).

    >>> fairness(staff, alpha.id, "2026Q3")["recorders"][0]["top_households_share"]
    0.75

The period's rows are read in one statement and summed here: a community's quarter is a few
thousand records at most, and the shares need the per-household split anyway.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

import sqlalchemy as sa

from pointsbank.auth import policy
from pointsbank.auth.models import User, UserGrid
from pointsbank.community.models import Household
from pointsbank.extensions import db
from pointsbank.regions.dashboard import ratio
from pointsbank.reports import exports, periods, rankings
from pointsbank.rules.listing import PUBLIC_STATUSES
from pointsbank.rules.models import BehaviourRecord

TOP = 3
WORKING_HOURS = (8, 18)
MIN_FLAGGED = 3


def period_records(community_id: int, period: periods.Period) -> list[sa.Row]:
    return list(db.session.execute(
        sa.select(BehaviourRecord.id, BehaviourRecord.recorded_by_id, BehaviourRecord.household_id,
                  BehaviourRecord.points, BehaviourRecord.status, BehaviourRecord.created_at,
                  Household.grid_id, Household.number)
        .join(Household, sa.and_(Household.community_id == BehaviourRecord.community_id,
                                 Household.id == BehaviourRecord.household_id))
        .where(BehaviourRecord.community_id == community_id,
               rankings.period_column(period) == period.key, BehaviourRecord.status.in_(PUBLIC_STATUSES))
        .order_by(BehaviourRecord.id)))


def own_grids(community_id: int, user_ids: set[int]) -> dict[int, set[int]]:
    """user id → the grids they look after or live in."""
    grids: dict[int, set[int]] = defaultdict(set)
    if not user_ids:
        return grids
    for user_id, grid_id in db.session.execute(sa.select(UserGrid.user_id, UserGrid.grid_id).where(
            UserGrid.community_id == community_id, UserGrid.user_id.in_(user_ids))):
        grids[user_id].add(grid_id)
    for user_id, grid_id in db.session.execute(
            sa.select(User.id, Household.grid_id).join(Household, Household.id == User.household_id)
            .where(User.id.in_(user_ids), Household.grid_id.is_not(None))):
        grids[user_id].add(grid_id)
    return grids


def is_outside_hours(moment: Any, tz: str) -> bool:
    hour = exports.local_time(moment, tz).hour
    return not WORKING_HOURS[0] <= hour < WORKING_HOURS[1]


def fairness(actor: User, community_id: int, period_key: str) -> dict[str, Any]:
    community = policy.community_for(actor, community_id, "admin", "staff")
    period = periods.parse(period_key)
    rows = period_records(community.id, period)
    by_recorder: dict[int, list[sa.Row]] = defaultdict(list)
    for row in rows:
        by_recorder[row.recorded_by_id].append(row)
    names = dict(db.session.execute(sa.select(User.id, User.username).where(User.id.in_(set(by_recorder) or {-1}))).all())
    grids = own_grids(community.id, set(by_recorder))
    recorders = []
    for user_id, own in by_recorder.items():
        counted = [r for r in own if r.status in rankings.COUNTED]
        weight: Counter[int] = Counter()
        for r in counted:
            weight[r.household_id] += abs(r.points)
        total_weight = sum(weight.values())
        top = sum(points for _, points in weight.most_common(TOP))
        mine = grids.get(user_id, set())
        outside = sum(1 for r in own if is_outside_hours(r.created_at, community.timezone))
        recorders.append({
            "user_id": user_id, "username": names.get(user_id), "records": len(own),
            "points": sum(r.points for r in counted), "households": len({r.household_id for r in own}),
            "top_households_share": ratio(top, total_weight, 4),
            "own_grid_share": ratio(sum(1 for r in own if r.grid_id in mine), len(own), 4) if mine else None,
            "outside_hours": outside, "outside_hours_share": ratio(outside, len(own), 4),
        })
    recorders.sort(key=lambda r: (-r["records"], r["user_id"]))
    return {"period": period.key, "community_id": community.id, "top": TOP,
            "working_hours": {"from": WORKING_HOURS[0], "until": WORKING_HOURS[1]}, "recorders": recorders,
            "households": flagged_households(community.id, rows)}


def flagged_households(community_id: int, rows: list[sa.Row]) -> list[dict[str, Any]]:
    counts = Counter(r.household_id for r in rows)
    households = int(db.session.scalar(
        sa.select(sa.func.count()).select_from(Household).where(Household.community_id == community_id)) or 0)
    per_household = list(counts.values()) + [0] * max(0, households - len(counts))
    if len(per_household) < 2:
        return []
    mean, deviation = statistics.fmean(per_household), statistics.pstdev(per_household)
    threshold = mean + 2 * deviation
    flagged = []
    for household_id, count in counts.items():
        if count >= MIN_FLAGGED and count > threshold:
            own = [r for r in rows if r.household_id == household_id]
            flagged.append({"household_id": household_id, "number": own[0].number, "records": count,
                            "points": sum(r.points for r in own if r.status in rankings.COUNTED),
                            "recorders": len({r.recorded_by_id for r in own}),
                            "mean_records": round(mean, 2)})
    flagged.sort(key=lambda h: (-h["records"], h["number"]))
    return flagged
