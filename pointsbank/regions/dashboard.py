"""The region dashboard (town, county …) and the public region board, computed by the database.

Per community under a region, for a period (a quarter ``2026Q3`` or a year ``2026``):

* ``households`` — the households of the community now;
* ``participation`` — the share (0–1) of them with at least one counted record in the period
  (posted, objected or upheld; see :mod:`pointsbank.reports.rankings`);
* ``points_awarded`` / ``points_deducted`` — the sums of the counted records' positive points
  and of the deductions (as a positive number);
* ``points_per_household`` — (awarded − deducted) / households;
* ``redemptions`` / ``redemption_points`` — the redemptions rung up in the period (in the
  community's time zone; a reversed redemption counts nothing), and their points;
* ``points_outstanding`` — the points the households may redeem now (the balance above the
  base, summed) and ``liability_fen`` their value at the community's point value now.

The trend is the region's figures by quarter: the quarters of a year, or the four quarters that
end with the quarter asked for.

On distributed PostgreSQL (``pointsbank.tenancy``) these statements are multi-shard by design:
a region spans many communities, so Citus runs each over their shards and sums the per-shard
groups (every join between distributed tables names ``community_id``); they read from the
replica where there is one.

One statement per figure family — households; records by (community, quarter); redemptions by
(community, quarter); balances — each over the whole subtree (``communities.region_id`` under
the region's materialised ``path``): never a loop over communities. The trend's quarters include
the one asked for, so the same rows give the period and the trend (a year adds one statement for
its distinct participants). A quarter's bounds in each community's zone come from the few
distinct zones of the subtree, as a ``CASE`` in the statement.

    >>> dashboard(admin_of_town, town.id, "2026Q3")["communities"][0]["participation"]
    0.6667

Ratios are rounded half up (participation to 4 decimals, points per household to 2) from exact
integers; nothing is summed in floats. The public region board ranks per household only
(points per household, then participation): no household, no raw total of points.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.auth.models import User
from pointsbank.community.models import Community, Household, Region
from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.ledger.models import Account
from pointsbank.redeem.models import Redemption
from pointsbank.reports import periods, rankings
from pointsbank.rules.models import BehaviourRecord

FIGURES = ("households", "participation", "points_awarded", "points_deducted", "points_per_household",
           "redemptions", "redemption_points", "points_outstanding", "liability_fen")


def ratio(numerator: int, denominator: int, places: int) -> float:
    """``numerator / denominator`` rounded half up to ``places`` decimals (0 when nothing to divide by)."""
    if not denominator:
        return 0.0
    exact = Decimal(int(numerator)) / Decimal(int(denominator))
    return float(exact.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def subtree(region: Region, *, public_only: bool = False) -> sa.Select:
    """The ids of the communities under ``region`` (its own and those of every region below)."""
    stmt = (sa.select(Community.id).join(Region, Region.id == Community.region_id)
            .where(Region.path.startswith(region.path)))
    return stmt.where(Community.is_notice_public.is_(True)) if public_only else stmt


def trend_quarters(period: periods.Period) -> list[periods.Period]:
    """The quarters of a year, or the four quarters ending with a quarter, oldest first."""
    if period.quarter is None:
        return [periods.Period(period.year, q) for q in range(1, 5)]
    quarters = [period]
    while len(quarters) < 4:
        quarters.insert(0, quarters[0].previous())
    return quarters


def _zones(under: sa.Select) -> list[str]:
    return list(db.session.scalars(sa.select(Community.timezone).where(Community.id.in_(under)).distinct()))


def _awarded() -> Any:
    return sa.func.coalesce(sa.func.sum(sa.case((BehaviourRecord.points > 0, BehaviourRecord.points), else_=0)), 0)


def _deducted() -> Any:
    return sa.func.coalesce(sa.func.sum(sa.case((BehaviourRecord.points < 0, -BehaviourRecord.points), else_=0)), 0)


def _records_by_quarter(under: sa.Select, quarters: list[periods.Period]) -> dict[tuple[int, str], Any]:
    """(community, quarter) → participants, awarded, deducted: one statement in two steps, each a
    stream in the order of the index ``(community_id, quarter_key, household_id) INCLUDE (status,
    points)`` — per household first, then per community and quarter (no sort, no DISTINCT)."""
    per_household = (
        sa.select(BehaviourRecord.community_id, BehaviourRecord.quarter_key, BehaviourRecord.household_id,
                  _awarded().label("awarded"), _deducted().label("deducted"))
        .where(BehaviourRecord.community_id.in_(under), BehaviourRecord.quarter_key.in_([q.key for q in quarters]),
               BehaviourRecord.status.in_(rankings.COUNTED))
        .group_by(BehaviourRecord.community_id, BehaviourRecord.quarter_key, BehaviourRecord.household_id)
        .subquery())
    return {(row.community_id, row.quarter_key): row for row in db.session.execute(
        sa.select(per_household.c.community_id, per_household.c.quarter_key,
                  sa.func.count().label("participants"), sa.func.sum(per_household.c.awarded).label("awarded"),
                  sa.func.sum(per_household.c.deducted).label("deducted"))
        .group_by(per_household.c.community_id, per_household.c.quarter_key))}


def _records_of_year(under: sa.Select, period: periods.Period) -> dict[int, Any]:
    """community → its figures of a year (participants are distinct over the year, not summed)."""
    return {row.community_id: row for row in db.session.execute(
        sa.select(BehaviourRecord.community_id,
                  sa.func.count(sa.distinct(BehaviourRecord.household_id)).label("participants"),
                  _awarded().label("awarded"), _deducted().label("deducted"))
        .where(*rankings.counted_records(under, period)).group_by(BehaviourRecord.community_id))}


def _redemptions_by_quarter(under: sa.Select, quarters: list[periods.Period]) -> dict[tuple[int, str], Any]:
    """(community, quarter) → count, points of the redemptions not reversed, each quarter in the
    community's own zone (a ``CASE`` over the few zones of the subtree)."""
    zones = _zones(under)
    if not zones:
        return {}
    quarter = sa.case(*[(sa.and_(Community.timezone == tz, Redemption.created_at >= q.bounds(tz)[0],
                                 Redemption.created_at < q.bounds(tz)[1]), q.key)
                        for q in quarters for tz in zones], else_=None).label("quarter")
    window = sa.or_(*[sa.and_(Community.timezone == tz, Redemption.created_at >= quarters[0].bounds(tz)[0],
                              Redemption.created_at < quarters[-1].bounds(tz)[1]) for tz in zones])
    return {(row.community_id, row.quarter): row for row in db.session.execute(
        sa.select(Redemption.community_id, quarter, sa.func.count().label("count"),
                  sa.func.coalesce(sa.func.sum(Redemption.points), 0).label("points"))
        .join(Community, Community.id == Redemption.community_id)
        .where(Redemption.community_id.in_(under), Redemption.reversed_at.is_(None), window)
        .group_by(Redemption.community_id, quarter))}


def _figures(participants: int, awarded: int, deducted: int, households: int) -> dict[str, Any]:
    return {"participants": participants, "participation": ratio(participants, households, 4),
            "points_awarded": awarded, "points_deducted": deducted,
            "points_per_household": ratio(awarded - deducted, households, 2)}


def region_figures(under: sa.Select, period: periods.Period) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The figures of every community in ``under`` for ``period`` (ordered by code), and the trend
    of the whole subtree by quarter. Statements: households, records by quarter (and for a year
    its distinct participants), redemptions by quarter, balances, the communities themselves."""
    quarters = trend_quarters(period)
    households = dict(db.session.execute(
        sa.select(Household.community_id, sa.func.count()).where(Household.community_id.in_(under))
        .group_by(Household.community_id)).all())
    records = _records_by_quarter(under, quarters)
    redeemed = _redemptions_by_quarter(under, quarters)
    above_base = Account.balance - Community.base_points
    outstanding = dict(db.session.execute(
        sa.select(Account.community_id, sa.func.coalesce(sa.func.sum(
            sa.case((above_base > 0, above_base), else_=0)), 0))
        .join(Community, Community.id == Account.community_id)
        .where(Account.community_id.in_(under), Account.kind == "household")
        .group_by(Account.community_id)).all())
    year = _records_of_year(under, period) if period.quarter is None else None
    # a quarter is one of the trend's; a year is the sum of its four (its participants apart)
    keys = [period.key] if period.quarter else [q.key for q in quarters]
    communities = db.session.execute(
        sa.select(Community.id, Community.code, Community.name, Community.point_value_fen,
                  Region.name.label("region"))
        .join(Region, Region.id == Community.region_id).where(Community.id.in_(under)).order_by(Community.code))
    entries = []
    for c in communities:
        count = int(households.get(c.id, 0))
        if year is not None:
            row = year.get(c.id)
            participants, awarded, deducted = ((int(row.participants), int(row.awarded), int(row.deducted))
                                               if row else (0, 0, 0))
        else:
            row = records.get((c.id, period.key))
            participants, awarded, deducted = ((int(row.participants), int(row.awarded), int(row.deducted))
                                               if row else (0, 0, 0))
        spent = [redeemed[(c.id, k)] for k in keys if (c.id, k) in redeemed]
        points_outstanding = int(outstanding.get(c.id, 0))
        entries.append({
            "community_id": c.id, "code": c.code, "name": c.name, "region": c.region, "households": count,
            **_figures(participants, awarded, deducted, count),
            "redemptions": sum(int(r.count) for r in spent), "redemption_points": sum(int(r.points) for r in spent),
            "points_outstanding": points_outstanding, "liability_fen": points_outstanding * int(c.point_value_fen),
        })
    return entries, _trend(quarters, records, redeemed, sum(int(n) for n in households.values()))


def _trend(quarters: list[periods.Period], records: dict, redeemed: dict, households: int) -> list[dict[str, Any]]:
    """The subtree by quarter, summed from the (community, quarter) rows (a household belongs to
    one community, so the communities' participants add up)."""
    rows = []
    for q in quarters:
        of_quarter = [row for (_, key), row in records.items() if key == q.key]
        spent = [row for (_, key), row in redeemed.items() if key == q.key]
        rows.append({"period": q.key,
                     **_figures(sum(int(r.participants) for r in of_quarter), sum(int(r.awarded) for r in of_quarter),
                                sum(int(r.deducted) for r in of_quarter), households),
                     "redemptions": sum(int(r.count) for r in spent),
                     "redemption_points": sum(int(r.points) for r in spent)})
    return rows


def community_figures(under: sa.Select, period: periods.Period) -> list[dict[str, Any]]:
    return region_figures(under, period)[0]


def totals(entries: list[dict[str, Any]]) -> dict[str, Any]:
    households = sum(e["households"] for e in entries)
    participants = sum(e["participants"] for e in entries)
    summed = {key: sum(e[key] for e in entries) for key in (
        "points_awarded", "points_deducted", "redemptions", "redemption_points", "points_outstanding",
        "liability_fen")}
    return {"communities": len(entries), "households": households, "participants": participants,
            "participation": ratio(participants, households, 4),
            "points_per_household": ratio(summed["points_awarded"] - summed["points_deducted"], households, 2),
            **summed}


def region_view(region: Region, period: periods.Period) -> dict[str, Any]:
    entries, trend = region_figures(subtree(region), period)
    return {"period": period.key, "region_id": region.id, "code": region.code, "name": region.name,
            "kind": region.kind, "communities": entries, "totals": totals(entries), "trend": trend}


def dashboard(actor: User, region_id: int, period_key: str) -> dict[str, Any]:
    """An admin's dashboard of a region in its scope (404 for a region outside it)."""
    region = rankings.region_for(actor, region_id)
    return region_view(region, periods.parse(period_key))


def regions_in_scope(actor: User) -> list[Region]:
    """The regions an admin may open a dashboard of (its own and those below; every one without)."""
    stmt = sa.select(Region).order_by(Region.path)
    if actor.region_id is not None:
        own = db.session.get(Region, actor.region_id)
        stmt = stmt.where(Region.path.startswith(own.path if own else "/none/"))
    return list(db.session.scalars(stmt))


# --- the public region board --------------------------------------------------------------

def public_region(code: str) -> Region:
    region = db.session.scalar(sa.select(Region).where(Region.code == code))
    if region is None:
        raise NotFound()
    return region


def region_board(code: str, period_key: str) -> dict[str, Any]:
    """The villages of a region that publish their notice board, ranked per household for a
    closed period: points per household (exactly, as fractions), then participation. No
    household appears, nor any raw total of points; ties share a rank."""
    region = public_region(code)
    period = periods.parse(period_key)
    under = subtree(region, public_only=True)
    now = clock.now()
    if not all(period.is_closed(tz, now) for tz in _zones(under) or ["Asia/Shanghai"]):
        raise periods.PeriodNotClosed(period=period.key)
    entries = community_figures(under, period)

    def key(entry: dict[str, Any]) -> tuple[Fraction, Fraction]:
        n = entry["households"] or 1
        return (Fraction(entry["points_awarded"] - entry["points_deducted"], n), Fraction(entry["participants"], n))

    entries.sort(key=lambda e: (tuple(-x for x in key(e)), e["code"]))
    ranking, previous, rank = [], None, 0
    for position, entry in enumerate(entries, start=1):
        if key(entry) != previous:
            rank, previous = position, key(entry)
        ranking.append({"rank": rank, "code": entry["code"], "name": entry["name"], "region": entry["region"],
                        "points_per_household": entry["points_per_household"],
                        "participation": entry["participation"]})
    return {"period": period.key, "code": region.code, "name": region.name, "kind": region.kind,
            "ranking": ranking}


# --- CSV and XLSX -------------------------------------------------------------------------

def dashboard_sheets(view: dict[str, Any]) -> list[Any]:
    """The dashboard as the exports render it (formula injection guarded by :mod:`exports`)."""
    from pointsbank.reports.exports import Sheet

    t = view["totals"]
    communities = Sheet(
        "区域看板", ["代码", "社区", "所属", "户数", "参与户数", "参与率", "奖励积分", "扣减积分", "户均积分", "兑换笔数",
                     "兑换积分", "未兑积分", "负债（元）"],
        [[c["code"], c["name"], c["region"], c["households"], c["participants"], c["participation"],
          c["points_awarded"], c["points_deducted"], c["points_per_household"], c["redemptions"],
          c["redemption_points"], c["points_outstanding"], c["liability_fen"]] for c in view["communities"]],
        totals=["合计", "", "", t["households"], t["participants"], t["participation"], t["points_awarded"],
                t["points_deducted"], t["points_per_household"], t["redemptions"], t["redemption_points"],
                t["points_outstanding"], t["liability_fen"]], money={12})
    trend_sheet = Sheet("季度趋势", ["季度", "参与户数", "参与率", "奖励积分", "扣减积分", "户均积分", "兑换笔数", "兑换积分"],
                        [[r["period"], r["participants"], r["participation"], r["points_awarded"],
                          r["points_deducted"], r["points_per_household"], r["redemptions"], r["redemption_points"]]
                         for r in view["trend"]])
    return [communities, trend_sheet]


def export_dashboard(actor: User, region_id: int, period_key: str, fmt: str) -> Any:
    from pointsbank.reports import exports

    view = dashboard(actor, region_id, period_key)
    return exports.render(fmt, dashboard_sheets(view), f"dashboard-{view['code']}-{view['period']}")
