"""Star-rated households (星级文明户).

A community sets ``star_levels: [{stars, min_points}]`` (increasing in both). A household's
stars for a year are those of the highest level whose ``min_points`` its points of the year
reach; its points of the year are those of its counted records (posted, objected, upheld —
never reversed, rejected or pending; deductions negative), the same figure as the year's
ranking. With levels 50/100/200 → 1/2/3 stars: 49 points → 0, 50 → 1, 200 → 3.

Stars are computed with the boards (:func:`compute` is called by ``notice.publish``): each
quarter's board stores the year so far, the year's board the final figure, so a record
reversed after one board lowers the stars at the next. :func:`household_stars` reads the
stored figure of the newest computed year — the one other packages (the shelf's
``min_stars``) call.

    >>> stars_for(120, [{"stars": 1, "min_points": 50}, {"stars": 2, "min_points": 100}])
    2
"""

from __future__ import annotations

from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from pointsbank import clock
from pointsbank.community.models import Community, Household
from pointsbank.database import is_postgresql
from pointsbank.extensions import db
from pointsbank.regions.models import HouseholdStars
from pointsbank.reports import periods, rankings
from pointsbank.rules.models import BehaviourRecord


def stars_for(points: int, levels: Sequence[dict[str, int]] | None) -> int:
    """The stars of the highest level reached (0 when none is, or the community has no levels)."""
    return max((level["stars"] for level in levels or () if points >= level["min_points"]), default=0)


def compute(community: Community, year: int) -> int:
    """Store every household's points and stars for ``year`` (an upsert: safe to run again); the
    number of households with at least one star. Nothing is stored when the community has no levels."""
    levels = sorted(community.star_levels or [], key=lambda level: level["min_points"])
    if not levels:
        return 0
    period = periods.parse(str(year))
    earned = (sa.select(BehaviourRecord.community_id, BehaviourRecord.household_id,
                        sa.func.sum(BehaviourRecord.points).label("points"))
              .where(*rankings.counted_records(community.id, period))
              .group_by(BehaviourRecord.community_id, BehaviourRecord.household_id).subquery())
    points = sa.func.coalesce(earned.c.points, 0)
    stars = sa.case(*[(points >= level["min_points"], level["stars"]) for level in reversed(levels)], else_=0)
    now = clock.now()
    source = (sa.select(Household.community_id, Household.id, sa.literal(str(year)), points, stars, sa.literal(now))
              .select_from(Household).outerjoin(earned, sa.and_(earned.c.community_id == Household.community_id,
                                                                earned.c.household_id == Household.id))
              .where(Household.community_id == community.id))
    table = HouseholdStars.__table__
    insert = (postgresql.insert if is_postgresql() else sqlite.insert)(table)
    columns = ["community_id", "household_id", "year", "points", "stars", "computed_at"]
    statement = insert.from_select(columns, source)
    statement = statement.on_conflict_do_update(
        index_elements=["community_id", "household_id", "year"],
        set_={"points": statement.excluded.points, "stars": statement.excluded.stars,
              "computed_at": statement.excluded.computed_at})
    db.session.execute(statement)
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(table).where(
        table.c.community_id == community.id, table.c.year == str(year), table.c.stars > 0)) or 0)


def household_stars(community_id: int, household_id: int) -> int:
    """The household's stars of the newest year computed for its community (0 if none)."""
    return int(db.session.scalar(
        sa.select(HouseholdStars.stars)
        .where(HouseholdStars.community_id == community_id, HouseholdStars.household_id == household_id)
        .order_by(HouseholdStars.year.desc()).limit(1)) or 0)


def year_stars(community_id: int, year: int | str) -> dict[int, int]:
    """household id → stars for one year of one community (what a board shows)."""
    rows = db.session.execute(sa.select(HouseholdStars.household_id, HouseholdStars.stars).where(
        HouseholdStars.community_id == community_id, HouseholdStars.year == str(year)))
    return {household_id: int(stars) for household_id, stars in rows}


def stars_view(community_id: int, household_id: int) -> dict[str, Any]:
    """``{stars, year, points}`` of the newest computed year, for the household's pages."""
    row = db.session.execute(
        sa.select(HouseholdStars.stars, HouseholdStars.year, HouseholdStars.points)
        .where(HouseholdStars.community_id == community_id, HouseholdStars.household_id == household_id)
        .order_by(HouseholdStars.year.desc()).limit(1)).first()
    if row is None:
        return {"stars": 0, "year": None, "points": None}
    return {"stars": int(row.stars), "year": row.year, "points": int(row.points)}
