"""Notice boards (公示): what a community publishes for a quarter, and for a year.

A quarter's board: the household ranking and its champion (see :mod:`rankings`), totals per
category and per grid, and the records of the quarter still open to objection when it is
published (posted within the community's ``notice_days``). A year's board adds the **best
families**: the households ranked within ``best_families_count`` by annual total (a tie at
the cut-off honours everyone tied), with more than 0 points.

The quarterly job stores the board once (``notice_boards``, unique per community and period;
the run guard makes a second run a no-op), so what was published stays as it was published.
Reading a period that has no stored board (the running quarter, or before the job ran)
computes it live, marked ``is_published: false``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community.models import Community, Grid, Household
from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.reports import periods, rankings
from pointsbank.reports.models import NoticeBoard
from pointsbank.rules.models import BehaviourRecord, RuleBookVersion

OPEN_TO_OBJECTION = ("posted", "objected")


def build(community: Community, period: periods.Period, now: datetime) -> dict[str, Any]:
    """The board's content as plain JSON (dates as ISO 8601)."""
    ranking = rankings.household_ranking(community.id, period)
    if community.star_levels:
        from pointsbank.regions.stars import year_stars

        stars = year_stars(community.id, period.year)
        ranking = [entry | {"stars": stars.get(entry["household_id"], 0)} for entry in ranking]
    board: dict[str, Any] = {
        "period": period.key,
        "kind": period.kind,
        "community": {"id": community.id, "code": community.code, "name": community.name},
        "first_day": period.first_day().isoformat(),
        "last_day": period.last_day().isoformat(),
        "champion": rankings.champions(ranking),
        "ranking": ranking,
        "categories": _categories(community.id, period),
        "grids": _grids(community.id, period),
        "total_points": sum(entry["points"] for entry in ranking),
        "households": len(ranking),
    }
    if period.kind == "quarter":
        board["open_records"] = _open_records(community, period, now)
    else:
        limit = community.best_families_count
        board["best_families"] = [e for e in ranking if e["rank"] <= limit and e["points"] > 0]
    return board


def publish(community_id: int, period: periods.Period, now: datetime | None = None) -> dict[str, Any]:
    """The job's work: store the board of a closed period (in the caller's transaction)."""
    community = db.session.get(Community, community_id)
    if community is None:
        raise NotFound()
    moment = now or clock.now()
    period.ensure_closed(community.timezone, moment)
    from pointsbank.regions import stars

    starred = stars.compute(community, period.year)  # the year so far with a quarter's board, final with the year's
    data = build(community, period, moment)
    db.session.add(NoticeBoard(community_id=community.id, period=period.key, data=data, published_at=clock.now()))
    db.session.flush()
    summary = {"households": data["households"], "champions": len(data["champion"])}
    if community.star_levels:
        summary["starred"] = starred
    if period.kind == "year":
        summary["best_families"] = len(data["best_families"])
    return summary


def board_view(community: Community, period: periods.Period) -> dict[str, Any]:
    stored = db.session.scalar(sa.select(NoticeBoard).where(NoticeBoard.community_id == community.id,
                                                            NoticeBoard.period == period.key))
    if stored is not None:
        return {**stored.data, "is_published": True, "published_at": stored.published_at}
    return {**build(community, period, clock.now()), "is_published": False, "published_at": None}


def get_notice(actor: User, community_id: int, period_key: str | None = None) -> dict[str, Any]:
    community = policy.community_for(actor, community_id)
    period = periods.parse(period_key) if period_key else periods.current("quarter", community.timezone, clock.now())
    return board_view(community, period)


def public_notice(community_code: str, period_key: str) -> dict[str, Any]:
    """The board for the public page ``/notice/{code}/{period}``: only when the community
    publishes its notice without a login; otherwise (or unknown) NotFound."""
    community = db.session.scalar(sa.select(Community).where(Community.code == community_code))
    if community is None or not community.is_notice_public:
        raise NotFound()
    return board_view(community, periods.parse(period_key))


def notice_community(community_code: str, actor: User | None = None) -> Community:
    """The community whose boards a page shows: one that publishes its notice to anyone, and
    any other to a login that has it in scope (``policy.community_visible``); else NotFound."""
    community = db.session.scalar(sa.select(Community).where(Community.code == community_code))
    if community is None:
        raise NotFound()
    if community.is_notice_public or (actor is not None and policy.community_visible(actor, community)):
        return community
    raise NotFound()


def published_periods(community_id: int) -> list[dict[str, Any]]:
    """The boards a community has published: ``[{period, kind, published_at}]``, newest period first
    (a year before its fourth quarter)."""
    rows = db.session.execute(sa.select(NoticeBoard.period, NoticeBoard.published_at)
                              .where(NoticeBoard.community_id == community_id)).all()
    found = sorted(((periods.parse(r.period), r.published_at) for r in rows),
                   key=lambda pair: (pair[0].year, pair[0].quarter or 5), reverse=True)
    return [{"period": p.key, "kind": p.kind, "published_at": at} for p, at in found]


def _categories(community_id: int, period: periods.Period) -> list[dict[str, Any]]:
    rows = db.session.execute(
        sa.select(BehaviourRecord.category, sa.func.sum(BehaviourRecord.points).label("points"),
                  sa.func.count().label("records"))
        .where(*rankings.counted_records(community_id, period))
        .group_by(BehaviourRecord.category).order_by(BehaviourRecord.category)).all()
    names = _category_names(community_id, period, {r.category for r in rows})
    return [{"category": r.category, "name": names.get(r.category, {}).get("zh", r.category),
             "name_en": names.get(r.category, {}).get("en", r.category), "points": int(r.points),
             "records": int(r.records)} for r in rows]


def _category_names(community_id: int, period: periods.Period, codes: set[str]) -> dict[str, dict[str, str]]:
    """Category names from the rule-book versions the period's records were scored under."""
    from pointsbank.rules.rulebook import RuleBookError, parse_rulebook

    if not codes:
        return {}
    used = sa.select(BehaviourRecord.rulebook_version_id).where(
        *rankings.counted_records(community_id, period)).distinct()
    names: dict[str, dict[str, str]] = {}
    for source in db.session.scalars(sa.select(RuleBookVersion.source).where(RuleBookVersion.id.in_(used))
                                     .order_by(RuleBookVersion.effective_from)):
        try:
            book = parse_rulebook(source)
        except RuleBookError:
            continue
        names.update({c.code: {"zh": c.name_zh, "en": c.name_en} for c in book.categories if c.code in codes})
    return names


def _grids(community_id: int, period: periods.Period) -> list[dict[str, Any]]:
    earned = (sa.select(BehaviourRecord.household_id, sa.func.sum(BehaviourRecord.points).label("points"))
              .where(*rankings.counted_records(community_id, period))
              .group_by(BehaviourRecord.household_id).subquery())
    rows = db.session.execute(
        sa.select(Grid.name, sa.func.count().label("households"),
                  sa.func.coalesce(sa.func.sum(earned.c.points), 0).label("points"))
        .select_from(Household).outerjoin(Grid, sa.and_(Grid.community_id == Household.community_id,
                                                        Grid.id == Household.grid_id))
        .outerjoin(earned, earned.c.household_id == Household.id)
        .where(Household.community_id == community_id)
        .group_by(Grid.name).order_by(sa.func.coalesce(sa.func.sum(earned.c.points), 0).desc(), Grid.name)).all()
    return [{"grid": r.name, "households": int(r.households), "points": int(r.points)} for r in rows]


def _open_records(community: Community, period: periods.Period, now: datetime) -> list[dict[str, Any]]:
    """The records still open to objection, by name: only those of public rules
    (:mod:`pointsbank.rules.privacy`); the others are told to their household, not the village."""
    from pointsbank.rules.privacy import private_rules

    since = now - timedelta(days=community.notice_days)
    rows = db.session.execute(
        sa.select(BehaviourRecord.id, BehaviourRecord.household_id, Household.number, Household.head_name,
                  BehaviourRecord.rule_code, BehaviourRecord.category, BehaviourRecord.points,
                  BehaviourRecord.occurred_on, BehaviourRecord.posted_at, BehaviourRecord.status,
                  BehaviourRecord.rulebook_version_id)
        .join(Household, sa.and_(Household.community_id == BehaviourRecord.community_id,
                                 Household.id == BehaviourRecord.household_id))
        .where(BehaviourRecord.community_id == community.id, rankings.period_column(period) == period.key,
               BehaviourRecord.status.in_(OPEN_TO_OBJECTION), BehaviourRecord.posted_at >= since)
        .order_by(BehaviourRecord.posted_at, BehaviourRecord.id)).all()
    hidden = private_rules({r.rulebook_version_id for r in rows})
    rows = [r for r in rows if (r.rulebook_version_id, r.rule_code) not in hidden]
    return [{"record_id": r.id, "household_id": r.household_id, "number": r.number, "head_name": r.head_name,
             "rule_code": r.rule_code, "category": r.category, "points": int(r.points),
             "occurred_on": r.occurred_on.isoformat(), "posted_at": r.posted_at.isoformat(),
             "status": r.status,
             "objection_until": (r.posted_at + timedelta(days=community.notice_days)).isoformat()} for r in rows]
