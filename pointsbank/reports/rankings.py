"""Rankings, computed by the database: households within a community, communities within a region.

A household's points for a period are the sum of its behaviour records of that period (the
record's ``quarter_key``/``year_key``, i.e. the day it happened in the community's calendar)
that count: ``posted``, ``objected`` (still on the ledger while the objection is open) and
``upheld``; ``reversed``, ``rejected`` and ``pending`` records count nothing. Deductions count
negative. Every household of the community is ranked, those without records at 0.

Ranks are shared by ties and skip after them (standard competition ranking, SQL ``RANK()``):
300, 300, 250 → 1, 1, 3. The champion is every household ranked 1 with more than 0 points
(a list: ties share the title; empty when nobody earned anything).

Communities are ranked by the average points per household in the period, compared exactly
as fractions (no floats) and shown rounded to two decimals.

A household ranking names its community in every statement (one shard on Citus); a region's
ranking of communities is multi-shard by design (``pointsbank.tenancy``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa

from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.models import Community, Grid, Household, Region
from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.reports import periods
from pointsbank.rules.models import BehaviourRecord

COUNTED = ("posted", "objected", "upheld")


def period_column(period: periods.Period) -> Any:
    return BehaviourRecord.quarter_key if period.kind == "quarter" else BehaviourRecord.year_key


def counted_records(community_ids: Any, period: periods.Period) -> list[Any]:
    """WHERE clauses for the records that count in a period (``community_ids``: an id or a select)."""
    community = (BehaviourRecord.community_id == community_ids if isinstance(community_ids, int)
                 else BehaviourRecord.community_id.in_(community_ids))
    return [community, period_column(period) == period.key, BehaviourRecord.status.in_(COUNTED)]


def household_ranking(community_id: int, period: periods.Period) -> list[dict[str, Any]]:
    earned = (sa.select(BehaviourRecord.household_id, sa.func.sum(BehaviourRecord.points).label("points"))
              .where(*counted_records(community_id, period)).group_by(BehaviourRecord.household_id).subquery())
    points = sa.func.coalesce(earned.c.points, 0)
    rows = db.session.execute(
        sa.select(sa.func.rank().over(order_by=points.desc()).label("rank"), Household.id, Household.number,
                  Household.head_name, Grid.name.label("grid"), points.label("points"))
        .select_from(Household).outerjoin(earned, earned.c.household_id == Household.id)
        .outerjoin(Grid, sa.and_(Grid.community_id == Household.community_id,
                                 Grid.id == Household.grid_id))
        .where(Household.community_id == community_id)
        .order_by(points.desc(), Household.number))
    return [{"rank": int(r.rank), "household_id": r.id, "number": r.number, "head_name": r.head_name,
             "grid": r.grid, "points": int(r.points)} for r in rows]


def champions(ranking: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in ranking if entry["rank"] == 1 and entry["points"] > 0]


def ranking_view(community: Community, period: periods.Period) -> dict[str, Any]:
    ranking = household_ranking(community.id, period)
    return {"period": period.key, "community_id": community.id, "champion": champions(ranking), "ranking": ranking}


def community_ranking(actor: User, community_id: int, period_key: str | None = None) -> dict[str, Any]:
    """Any login of the community (and admins over it); the running quarter by default."""
    from pointsbank import clock

    community = policy.community_for(actor, community_id)
    period = periods.parse(period_key) if period_key else periods.current("quarter", community.timezone, clock.now())
    return ranking_view(community, period)


def region_for(actor: User, region_id: int) -> Region:
    policy.require_role(actor, "admin")
    region = db.session.get(Region, region_id)
    if region is None:
        raise NotFound()
    if actor.region_id is not None:
        own = db.session.get(Region, actor.region_id)
        if own is None or not region.path.startswith(own.path):
            raise NotFound()
    return region


def region_ranking(actor: User, region_id: int, period_key: str) -> dict[str, Any]:
    """The communities under a region (a town, a county …) ranked by average points per household."""
    region = region_for(actor, region_id)
    period = periods.parse(period_key)
    under = (sa.select(Community.id).join(Region, Region.id == Community.region_id)
             .where(Region.path.startswith(region.path)))
    households = (sa.select(Household.community_id, sa.func.count().label("households"))
                  .where(Household.community_id.in_(under)).group_by(Household.community_id).subquery())
    earned = (sa.select(BehaviourRecord.community_id, sa.func.sum(BehaviourRecord.points).label("points"))
              .where(*counted_records(under, period)).group_by(BehaviourRecord.community_id).subquery())
    rows = db.session.execute(
        sa.select(Community.id, Community.code, Community.name, Region.name.label("region"),
                  sa.func.coalesce(households.c.households, 0).label("households"),
                  sa.func.coalesce(earned.c.points, 0).label("points"))
        .join(Region, Region.id == Community.region_id)
        .outerjoin(households, households.c.community_id == Community.id)
        .outerjoin(earned, earned.c.community_id == Community.id)
        .where(Community.id.in_(under)))
    entries = []
    for row in rows:
        average = Fraction(int(row.points), int(row.households)) if row.households else Fraction(0)
        entries.append((average, {"community_id": row.id, "code": row.code, "name": row.name, "region": row.region,
                                  "households": int(row.households), "points": int(row.points),
                                  "average_points": _two_decimals(average)}))
    entries.sort(key=lambda pair: (-pair[0], pair[1]["code"]))
    ranking, previous, rank = [], None, 0
    for position, (average, entry) in enumerate(entries, start=1):
        if average != previous:
            rank, previous = position, average
        ranking.append({"rank": rank, **entry})
    return {"period": period.key, "region_id": region.id, "region": region.name, "ranking": ranking}


def _two_decimals(value: Fraction) -> str:
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01"), ROUND_HALF_UP))
