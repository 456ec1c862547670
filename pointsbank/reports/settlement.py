"""Building settlement statements in the database: three set-based statements per run.

For a community and a closed quarter ``[start, end)`` (its time zone):

1. ``INSERT INTO settlement_statements … SELECT`` one draft per shop that had a redemption in
   the quarter or has an adjustment to carry;
2. ``INSERT INTO settlement_lines … SELECT`` every redemption of the quarter not reversed
   (at its own ``value_fen``: the point value in force at that moment), and every adjustment:
   a redemption paid by an earlier *confirmed or paid* statement of the shop and reversed
   since, carried with the opposite sign (each at most once: unique key);
3. ``UPDATE … FROM (SELECT … GROUP BY statement_id)`` the totals from the lines.

No redemption passes through Python. Reruns are the guard's business
(:mod:`pointsbank.jobs.guard`): a completed period is never rebuilt. A *draft* is rebuilt
(its lines deleted and selected again) only when it is confirmed, so a redemption reversed
before confirmation simply drops out of it; confirmed and paid statements never change.

Example: a shop redeemed 30 points at 100 fen and, after the point value changed, 20 points
at 150 fen → ``count 2, points 50, amount_fen 6000``.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from pointsbank import clock
from pointsbank.community.models import Community
from pointsbank.database import UTCDateTime
from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.redeem.models import Redemption
from pointsbank.reports import periods
from pointsbank.reports.models import SettlementLine, SettlementStatement

R = Redemption.__table__
S = SettlementStatement.__table__
L = SettlementLine.__table__
LINE_COLUMNS = ["community_id", "statement_id", "kind", "redemption_id", "occurred_at", "points", "point_value_fen",
                "value_fen", "origin_statement_id"]


def settle(community_id: int, period: periods.Period, now: datetime | None = None) -> dict[str, Any]:
    """Draft statements of a community for a closed quarter (in the caller's transaction)."""
    community = db.session.get(Community, community_id)
    if community is None:
        raise NotFound()
    if period.kind != "quarter":
        raise periods.InvalidPeriod(period=period.key)
    period.ensure_closed(community.timezone, now or clock.now())
    start, end = period.bounds(community.timezone)
    built = clock.now()

    shops = sa.union(sa.select(R.c.shop_id).where(*_in_period(community_id, start, end)),
                     _carried(community_id, period.key, shops_only=True)).subquery()
    db.session.execute(sa.insert(S).from_select(
        ["community_id", "shop_id", "period", "status", "count", "points", "amount_fen", "adjustment_count",
         "adjustment_points", "adjustment_fen", "created_at", "built_at"],
        sa.select(sa.literal(community_id), shops.c.shop_id, sa.literal(period.key), sa.literal("draft"),
                  *[sa.literal(0) for _ in range(6)], _at(built), _at(built))))
    _insert_lines(community_id, period.key, start, end)
    _pause_for_tests()
    _update_totals(community_id, period.key)
    return _summary(community_id, period.key)


def rebuild(statement: SettlementStatement) -> None:
    """Select a draft's lines again from the current redemptions (used when it is confirmed)."""
    community = db.session.get(Community, statement.community_id)
    start, end = periods.parse(statement.period).bounds(community.timezone)
    db.session.execute(sa.delete(L).where(L.c.statement_id == statement.id))
    _insert_lines(statement.community_id, statement.period, start, end, statement_id=statement.id)
    db.session.execute(sa.update(S).where(S.c.id == statement.id).values(
        count=0, points=0, amount_fen=0, adjustment_count=0, adjustment_points=0, adjustment_fen=0,
        built_at=_at(clock.now())))
    _update_totals(statement.community_id, statement.period, statement_id=statement.id)
    db.session.refresh(statement)


def _at(moment: datetime) -> sa.BindParameter:
    return sa.bindparam(None, moment, type_=UTCDateTime)


def _in_period(community_id: int, start: datetime, end: datetime) -> list[Any]:
    return [R.c.community_id == community_id, R.c.created_at >= _at(start), R.c.created_at < _at(end),
            R.c.reversed_at.is_(None)]


def _carried(community_id: int, period_key: str, *, shops_only: bool = False,
             statement_id: int | None = None) -> sa.Select:
    """Reversed redemptions paid by an earlier confirmed/paid statement and not yet carried back."""
    paid_line, origin, carried = L.alias("paid_line"), S.alias("origin"), L.alias("carried")
    joined = (R.join(paid_line, sa.and_(paid_line.c.community_id == R.c.community_id,
                                        paid_line.c.redemption_id == R.c.id, paid_line.c.kind == "redemption"))
              .join(origin, sa.and_(origin.c.id == paid_line.c.statement_id,
                                    origin.c.status.in_(("confirmed", "paid")), origin.c.period < period_key)))
    where = [R.c.community_id == community_id, R.c.reversed_at.is_not(None),
             ~sa.exists().where(carried.c.community_id == community_id, carried.c.redemption_id == R.c.id,
                                carried.c.kind == "adjustment")]
    if shops_only:
        return sa.select(R.c.shop_id).select_from(joined).where(*where)
    joined = joined.join(S, sa.and_(S.c.community_id == R.c.community_id, S.c.shop_id == R.c.shop_id,
                                    S.c.period == period_key))
    if statement_id is not None:
        where.append(S.c.id == statement_id)
    return sa.select(R.c.community_id, S.c.id, sa.literal("adjustment"), R.c.id, R.c.reversed_at, -R.c.points,
                     R.c.point_value_fen, -R.c.value_fen, origin.c.id).select_from(joined).where(*where)


def _insert_lines(community_id: int, period_key: str, start: datetime, end: datetime,
                  statement_id: int | None = None) -> None:
    statement_match = sa.and_(S.c.community_id == R.c.community_id, S.c.shop_id == R.c.shop_id,
                              S.c.period == period_key)
    where = _in_period(community_id, start, end)
    if statement_id is not None:
        where.append(S.c.id == statement_id)
    redemptions = (sa.select(R.c.community_id, S.c.id, sa.literal("redemption"), R.c.id, R.c.created_at, R.c.points,
                             R.c.point_value_fen, R.c.value_fen, sa.null())
                   .select_from(R.join(S, statement_match)).where(*where))
    db.session.execute(sa.insert(L).from_select(LINE_COLUMNS, redemptions))
    db.session.execute(sa.insert(L).from_select(LINE_COLUMNS, _carried(community_id, period_key,
                                                                       statement_id=statement_id)))


def _update_totals(community_id: int, period_key: str, statement_id: int | None = None) -> None:
    is_redemption = L.c.kind == "redemption"

    def total(value: Any, redemption: bool | None) -> Any:
        if redemption is None:
            return sa.func.coalesce(sa.func.sum(value), 0)
        return sa.func.coalesce(sa.func.sum(sa.case((is_redemption if redemption else ~is_redemption, value),
                                                    else_=0)), 0)

    ids = sa.select(S.c.id).where(S.c.community_id == community_id, S.c.period == period_key)
    if statement_id is not None:
        ids = ids.where(S.c.id == statement_id)
    sums = (sa.select(L.c.statement_id.label("statement_id"),
                      total(1, True).label("count"), total(L.c.points, None).label("points"),
                      total(L.c.value_fen, None).label("amount_fen"), total(1, False).label("adjustment_count"),
                      total(L.c.points, False).label("adjustment_points"),
                      total(L.c.value_fen, False).label("adjustment_fen"))
            .where(L.c.community_id == community_id, L.c.statement_id.in_(ids))
            .group_by(L.c.statement_id).subquery())
    db.session.execute(sa.update(S).where(S.c.id == sums.c.statement_id).values(
        count=sums.c["count"], points=sums.c.points, amount_fen=sums.c.amount_fen,
        adjustment_count=sums.c.adjustment_count, adjustment_points=sums.c.adjustment_points,
        adjustment_fen=sums.c.adjustment_fen))


def _summary(community_id: int, period_key: str) -> dict[str, Any]:
    row = db.session.execute(sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(S.c["count"]), 0), sa.func.coalesce(sa.func.sum(S.c.points), 0),
        sa.func.coalesce(sa.func.sum(S.c.amount_fen), 0), sa.func.coalesce(sa.func.sum(S.c.adjustment_count), 0),
    ).where(S.c.community_id == community_id, S.c.period == period_key)).one()
    return {"statements": int(row[0]), "redemptions": int(row[1]), "points": int(row[2]), "amount_fen": int(row[3]),
            "adjustments": int(row[4])}


def _pause_for_tests() -> None:
    """``POINTSBANK_TEST_PAUSE_SETTLEMENT=<seconds>``: stop between the lines and the commit, so a
    test can kill the process mid-run. Ignored in production."""
    seconds = current_app.config.get("TEST_PAUSE_SETTLEMENT")
    if seconds and current_app.config.get("ENV") != "production":
        print("settlement paused before commit", file=sys.stderr, flush=True)
        time.sleep(float(seconds))
