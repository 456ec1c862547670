"""Building settlement statements in the database: one ``GROUP BY`` over the redemptions.

For a closed quarter and one or many communities, each with its quarter ``[start, end)`` in its
own time zone (:func:`quarter_bounds`; they go in as one ``VALUES`` list), at one build moment
``built_at``, in a fixed number of statements whatever the number of communities
(:func:`settle_quarters`; :func:`settle` is it for one):

1. ``SELECT … GROUP BY community_id, shop_id``, then its rows inserted into
   ``settlement_statements`` (a plain SELECT, because PostgreSQL sums it with parallel workers and
   never an ``INSERT … SELECT``; only one row per shop comes back): one draft
   per community and shop, its totals summed straight from ``redemptions`` — the redemptions of
   its community's quarter not reversed at ``built_at``, each at its own stored ``value_fen``
   (the point value in force at that moment) — plus a zero row for a shop that only has an
   adjustment to carry. The statement keeps ``starts_at``/``ends_at`` (the quarter as UTC
   instants) and ``built_at``;
2. ``INSERT INTO settlement_lines … SELECT`` the adjustments (few rows): a redemption paid by an
   earlier *confirmed or paid* statement of the shop — in that statement's
   ``[starts_at, ends_at)`` and reversed after its ``built_at`` — carried with the opposite sign,
   each at most once (unique key);
3. ``UPDATE`` the statements that received adjustments with their sums;
4. one ``SELECT … GROUP BY community_id`` for each community's summary.

On distributed PostgreSQL (``pointsbank.tenancy``) these statements are the deliberate exception
to "one statement, one community": they settle many communities at once, so Citus runs each
over the shards of those communities (multi-shard; every join between distributed tables still
names ``community_id``, so no rows move between nodes). A settlement is a job, not a request.

The redemption lines are not copied: a statement's redemption lines are *derived* on demand
(:func:`redemption_lines`) as the redemptions of its community and shop with ``created_at`` in
``[starts_at, ends_at)`` and ``reversed_at IS NULL OR reversed_at > built_at`` — the very predicate
its totals were summed with. Redemptions never change except ``reversed_at``, set once, so the
lines of a confirmed or paid statement never change; only the adjustments are materialised.

No redemption passes through Python, only the per-shop totals. Reruns are the guard's business
(:mod:`pointsbank.jobs.guard`): a completed period is never rebuilt. A *draft* is rebuilt
(totals summed again, ``built_at`` moved to now, adjustments selected again) only when it is
confirmed, so a redemption reversed before confirmation simply drops out of it; confirmed and
paid statements never change.

Double spends (issue 16): a voucher used offline after it was closed still pays the shop (an
``offline_overdraft`` posting, household −points, shop +points). The statement counts each such
``offline_redemptions`` row (``status='double_spend'``, of the voucher's community) at its
``synced_at`` — when the shop's account was credited, always after any statement built before,
so a built statement never gains one — at its stored ``value_fen``, in its totals and as a
derived line of kind ``double_spend`` (:func:`redemption_lines`).

Example: a shop redeemed 30 points at 100 fen and, after the point value changed, 20 points
at 150 fen → ``count 2, points 50, amount_fen 6000``.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Any, Sequence

import sqlalchemy as sa
from flask import current_app

from pointsbank import clock
from pointsbank.bulk import insert_rows
from pointsbank.community.models import Community
from pointsbank.database import UTCDateTime, execute
from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.offline.models import OfflineRedemption
from pointsbank.redeem.models import Redemption
from pointsbank.reports import periods
from pointsbank.reports.models import SettlementLine, SettlementStatement

R = Redemption.__table__
O = OfflineRedemption.__table__
S = SettlementStatement.__table__
L = SettlementLine.__table__
LINE_COLUMNS = ["community_id", "statement_id", "kind", "redemption_id", "occurred_at", "points", "point_value_fen",
                "value_fen", "origin_statement_id"]
STATEMENT_COLUMNS = ["community_id", "shop_id", "period", "status", "count", "points", "amount_fen",
                     "adjustment_count", "adjustment_points", "adjustment_fen", "created_at", "built_at",
                     "starts_at", "ends_at"]


def settle(community_id: int, period: periods.Period, now: datetime | None = None) -> dict[str, Any]:
    """Draft statements of a community for a closed quarter (in the caller's transaction)."""
    return settle_quarters(quarter_bounds([community_id], period, now or clock.now()), period.key)[community_id]


def quarter_bounds(community_ids: Sequence[int], period: periods.Period,
                   now: datetime) -> dict[int, tuple[datetime, datetime]]:
    """Each community's quarter ``[start, end)`` as UTC instants, in its own time zone (one query).

    Refuses an unknown community (404), a period that is not a quarter, and a quarter that has
    not closed at ``now`` in the time zone of every one of them."""
    ids = list(dict.fromkeys(community_ids))
    zones = dict(db.session.execute(sa.select(Community.id, Community.timezone).where(
        Community.id.in_(ids))).tuples().all()) if ids else {}
    if len(zones) != len(ids):
        raise NotFound()
    if period.kind != "quarter":
        raise periods.InvalidPeriod(period=period.key)
    by_zone = {}
    for tz in sorted(set(zones.values())):
        period.ensure_closed(tz, now)
        by_zone[tz] = period.bounds(tz)
    return {cid: by_zone[zones[cid]] for cid in ids}


def settle_quarters(bounds: dict[int, tuple[datetime, datetime]], period_key: str) -> dict[int, dict[str, Any]]:
    """Draft statements of several communities for a quarter, each ``[start, end)`` of ``bounds``
    (see :func:`quarter_bounds`), in a fixed number of statements whatever their number: the
    bounds go in as one ``VALUES`` list, and one ``INSERT … SELECT … GROUP BY community_id,
    shop_id`` sums them all. Each community's summary, by id (in the caller's transaction)."""
    if not bounds:
        return {}
    ids = list(bounds)
    built = clock.now()
    quarters = sa.values(sa.column("community_id", S.c.community_id.type), sa.column("starts_at", UTCDateTime),
                         sa.column("ends_at", UTCDateTime), name="quarters").data(
        [(cid, start, end) for cid, (start, end) in bounds.items()]).cte("quarters")
    q = quarters.c
    sums = (sa.select(R.c.community_id.label("community_id"), R.c.shop_id.label("shop_id"), sa.func.count().label("n"),
                      sa.func.sum(R.c.points).label("p"), sa.func.sum(R.c.value_fen).label("f"))
            .select_from(R.join(quarters, sa.and_(*_settled(q.community_id, q.starts_at, q.ends_at, _at(built)))))
            .group_by(R.c.community_id, R.c.shop_id))
    spends = (sa.select(O.c.voucher_community_id.label("community_id"), O.c.shop_id.label("shop_id"),
                        sa.func.count().label("n"), sa.func.sum(O.c.points).label("p"),
                        sa.func.sum(O.c.value_fen).label("f"))
              .select_from(O.join(quarters, sa.and_(*_double_spent(q.community_id, q.starts_at, q.ends_at))))
              .group_by(O.c.voucher_community_id, O.c.shop_id))
    carried_only = (sa.select(R.c.community_id.label("community_id"), R.c.shop_id.label("shop_id"),
                              sa.literal(0).label("n"), sa.literal(0).label("p"), sa.literal(0).label("f"))
                    .distinct().select_from(_carried_join(period_key)[0]).where(*_carried_where(ids)))
    shops = sa.union_all(sums, spends, carried_only).subquery()
    # a plain SELECT, then the statements inserted from its rows (one per shop, never a
    # redemption): PostgreSQL runs a SELECT's GROUP BY with parallel workers, never an
    # INSERT … SELECT's
    totals = execute(sa.select(
        shops.c.community_id, shops.c.shop_id, sa.func.sum(shops.c.n), sa.func.sum(shops.c.p),
        sa.func.sum(shops.c.f), q.starts_at, q.ends_at)
        .select_from(shops.join(quarters, q.community_id == shops.c.community_id))
        .group_by(shops.c.community_id, shops.c.shop_id, q.starts_at, q.ends_at)).all()
    insert_rows(S, STATEMENT_COLUMNS, (  # COPY on PostgreSQL
        (community_id, shop_id, period_key, "draft", int(n), int(p), int(f), 0, 0, 0, built, built, starts_at, ends_at)
        for community_id, shop_id, n, p, f, starts_at, ends_at in totals))
    _insert_adjustments(ids, period_key)
    _pause_for_tests()
    _add_adjustment_totals(ids, period_key)
    return _summaries(ids, period_key)


def rebuild(statement: SettlementStatement) -> None:
    """Sum a draft again from the current redemptions, as of now (used when it is confirmed)."""
    built = clock.now()
    count, points, fen = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(R.c.points), 0),
                  sa.func.coalesce(sa.func.sum(R.c.value_fen), 0))
        .where(R.c.shop_id == statement.shop_id,
               *_settled(statement.community_id, _at(statement.starts_at), _at(statement.ends_at), _at(built)))).one()
    spent_count, spent_points, spent_fen = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(O.c.points), 0),
                  sa.func.coalesce(sa.func.sum(O.c.value_fen), 0))
        .where(O.c.shop_id == statement.shop_id,
               *_double_spent(statement.community_id, _at(statement.starts_at), _at(statement.ends_at)))).one()
    count, points, fen = count + spent_count, points + spent_points, fen + spent_fen
    db.session.execute(sa.delete(L).where(L.c.statement_id == statement.id))
    db.session.execute(sa.update(S).where(S.c.id == statement.id).values(
        count=count, points=points, amount_fen=fen, adjustment_count=0, adjustment_points=0, adjustment_fen=0,
        built_at=_at(built)))
    _insert_adjustments([statement.community_id], statement.period, statement_id=statement.id)
    _add_adjustment_totals([statement.community_id], statement.period, statement_id=statement.id)
    db.session.refresh(statement)


def redemption_lines(statement: SettlementStatement) -> sa.Select:
    """The statement's redemption lines, read from ``redemptions`` (chronological), shaped like
    ``settlement_lines`` rows; a derived line's ``id`` is its redemption's id."""
    redeemed = (sa.select(R.c.id.label("id"), sa.literal("redemption").label("kind"), R.c.id.label("redemption_id"),
                          R.c.created_at.label("occurred_at"), R.c.points.label("points"),
                          R.c.point_value_fen.label("point_value_fen"), R.c.value_fen.label("value_fen"),
                          sa.null().label("origin_statement_id"))
                .where(R.c.shop_id == statement.shop_id,
                       *_settled(statement.community_id, _at(statement.starts_at), _at(statement.ends_at),
                                 _at(statement.built_at))))
    # a double spend's line: its offline redemption's id, no redemption
    spent = (sa.select(O.c.id.label("id"), sa.literal("double_spend").label("kind"),
                       sa.cast(sa.null(), R.c.id.type).label("redemption_id"), O.c.synced_at.label("occurred_at"),
                       O.c.points.label("points"), O.c.point_value_fen.label("point_value_fen"),
                       O.c.value_fen.label("value_fen"), sa.null().label("origin_statement_id"))
             .where(O.c.shop_id == statement.shop_id,
                    *_double_spent(statement.community_id, _at(statement.starts_at), _at(statement.ends_at))))
    lines = sa.union_all(redeemed, spent).subquery("lines")
    return sa.select(*lines.c).order_by(lines.c.occurred_at, lines.c.kind.desc(), lines.c.id)


def _at(moment: datetime) -> sa.BindParameter:
    return sa.bindparam(None, moment, type_=UTCDateTime)


def _settled(community_id: Any, start: Any, end: Any, built: Any) -> list[Any]:
    """A statement's redemptions: of the quarter, and not reversed when the statement was built."""
    return [R.c.community_id == community_id, R.c.created_at >= start, R.c.created_at < end,
            sa.or_(R.c.reversed_at.is_(None), R.c.reversed_at > built)]


def _double_spent(community_id: Any, start: Any, end: Any) -> list[Any]:
    """A statement's double spends: of the voucher's community, synced (the shop credited) in the quarter."""
    return [O.c.voucher_community_id == community_id, O.c.status == "double_spend", O.c.synced_at >= start,
            O.c.synced_at < end]


def _carried_join(period_key: str) -> tuple[sa.Join, sa.Alias]:
    """Redemptions joined to the earlier confirmed/paid statement (``origin``) that paid them and
    was built before they were reversed."""
    origin = S.alias("origin")
    return R.join(origin, sa.and_(origin.c.community_id == R.c.community_id, origin.c.shop_id == R.c.shop_id,
                                  origin.c.status.in_(("confirmed", "paid")), origin.c.period < period_key,
                                  R.c.created_at >= origin.c.starts_at, R.c.created_at < origin.c.ends_at,
                                  R.c.reversed_at > origin.c.built_at)), origin


def _carried_where(community_ids: Sequence[int]) -> list[Any]:
    """…of these communities, and not yet carried back by an adjustment."""
    carried = L.alias("carried")
    return [R.c.community_id.in_(community_ids), R.c.reversed_at.is_not(None),
            ~sa.exists().where(carried.c.community_id == R.c.community_id, carried.c.redemption_id == R.c.id,
                               carried.c.kind == "adjustment")]


def _insert_adjustments(community_ids: Sequence[int], period_key: str, statement_id: int | None = None) -> None:
    joined, origin = _carried_join(period_key)
    joined = joined.join(S, sa.and_(
        S.c.community_id == R.c.community_id, S.c.shop_id == R.c.shop_id, S.c.period == period_key))
    where = _carried_where(community_ids)
    if statement_id is not None:
        where.append(S.c.id == statement_id)
    db.session.execute(sa.insert(L).from_select(LINE_COLUMNS, sa.select(
        R.c.community_id, S.c.id, sa.literal("adjustment"), R.c.id, R.c.reversed_at, -R.c.points,
        R.c.point_value_fen, -R.c.value_fen, origin.c.id).select_from(joined).where(*where)))


def _add_adjustment_totals(community_ids: Sequence[int], period_key: str, statement_id: int | None = None) -> None:
    """Add the adjustment lines' sums to the statements that received some (few rows)."""
    ids = sa.select(S.c.id).where(S.c.community_id.in_(community_ids), S.c.period == period_key)
    if statement_id is not None:
        ids = ids.where(S.c.id == statement_id)
    sums = (sa.select(L.c.statement_id.label("statement_id"), sa.func.count().label("n"),
                      sa.func.sum(L.c.points).label("p"), sa.func.sum(L.c.value_fen).label("f"))
            .where(L.c.community_id.in_(community_ids), L.c.kind == "adjustment", L.c.statement_id.in_(ids))
            .group_by(L.c.statement_id).subquery())
    db.session.execute(sa.update(S).where(S.c.id == sums.c.statement_id).values(
        adjustment_count=sums.c.n, adjustment_points=sums.c.p, adjustment_fen=sums.c.f,
        points=S.c.points + sums.c.p, amount_fen=S.c.amount_fen + sums.c.f))


def _summaries(community_ids: Sequence[int], period_key: str) -> dict[int, dict[str, Any]]:
    """Each community's statements of the period in figures (zeros for one without any)."""
    rows = db.session.execute(sa.select(
        S.c.community_id, sa.func.count(), sa.func.sum(S.c["count"]), sa.func.sum(S.c.points),
        sa.func.sum(S.c.amount_fen), sa.func.sum(S.c.adjustment_count),
    ).where(S.c.community_id.in_(community_ids), S.c.period == period_key).group_by(S.c.community_id))
    found = {row[0]: row[1:] for row in rows}
    return {cid: dict(zip(("statements", "redemptions", "points", "amount_fen", "adjustments"),
                          (int(n) for n in found.get(cid, (0,) * 5))))
            for cid in community_ids}


def _pause_for_tests() -> None:
    """``POINTSBANK_TEST_PAUSE_SETTLEMENT=<seconds>``: stop between the statements and the commit,
    so a test can kill the process mid-run. Ignored in production."""
    seconds = current_app.config.get("TEST_PAUSE_SETTLEMENT")
    if seconds and current_app.config.get("ENV") != "production":
        print("settlement paused before commit", file=sys.stderr, flush=True)
        time.sleep(float(seconds))
