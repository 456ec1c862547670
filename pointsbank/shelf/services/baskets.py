"""A basket at the counter: items priced, checked and taken in the redemption's transaction.

``redeem(cashier, code=…, items=[{"item_id": 7, "quantity": 2}, {"item_id": 9, "quantity": 1}])``
(:mod:`pointsbank.redeem.redemptions`) locks the voucher and the ledger accounts as a typed
redemption does, then calls :func:`price` here, which locks the basket's items (id order) and
refuses the whole basket — a partial basket is never taken — when any item is

1. ``item_unavailable`` 422: inactive, or outside its availability window;
2. ``stars_required`` 422: the household has fewer stars than the item asks;
3. ``household_limit_reached`` 422: what the household took this period (redemptions not
   reversed, plus reservations still held) and this basket exceed the item's limit;
4. ``out_of_stock`` 409: less left than asked; ``details.items`` names every such item with
   what is left.

The points of the basket are the sum of its lines; the redemption's ledger transaction posts
them; :func:`record` then writes the stock movements and the redemption lines. All of it is one
database transaction, so a refusal at any step moves nothing. The household's ledger account
is locked before the limit is counted, so two baskets of one household never both pass a limit
of one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import get_locale

from pointsbank.database import UTCDateTime, dialect_name, execute, is_postgresql, lock_for_update
from pointsbank.extensions import db
from pointsbank.redeem.models import Redemption
from pointsbank.reports import periods
from pointsbank.regions import stars
from pointsbank.shelf.models import RedemptionLine, Reservation, ReservationLine, ShelfItem
from pointsbank.shelf.refusals import (BasketEmpty, HouseholdLimitReached, ItemNotFound, ItemUnavailable, OutOfStock,
                                       StarsRequired)
from pointsbank.shelf.services.stock import shelf_community, write_movements

#: at most this many units of one item in one basket, and this many distinct items
MAX_QUANTITY, MAX_LINES = 1000, 100


@dataclass(frozen=True)
class Line:
    item: Any  # the locked row of ``_priced_lock``
    quantity: int

    @property
    def points(self) -> int:
        return int(self.item.points) * self.quantity


@dataclass(frozen=True)
class Basket:
    shop_id: int
    household_id: int
    lines: tuple[Line, ...]

    @property
    def points(self) -> int:
        return sum(line.points for line in self.lines)

    def view(self) -> list[dict[str, Any]]:
        return [{"item_id": line.item.id, "name": {"zh": line.item.name_zh, "en": line.item.name_en},
                 "quantity": line.quantity, "points_each": int(line.item.points), "points": line.points}
                for line in self.lines]


def display_name(item: Any) -> str:
    """The item's name in the caller's language."""
    locale = get_locale()
    return item.name_en if locale is not None and locale.language == "en" else item.name_zh


def merged(items: Iterable[Mapping[str, Any]]) -> dict[int, int]:
    """item id → quantity, the same item given twice counted once; an empty basket is refused."""
    quantities: dict[int, int] = {}
    for entry in items:
        quantities[int(entry["item_id"])] = quantities.get(int(entry["item_id"]), 0) + int(entry.get("quantity", 1))
    if not quantities or any(q < 1 for q in quantities.values()):
        raise BasketEmpty()
    return quantities


def _refusal(error_class: type, rows: Sequence[Any], **extra: Any) -> Exception:
    names = "、".join(display_name(r) for r in rows) if get_locale() is None or get_locale().language != "en" \
        else ", ".join(display_name(r) for r in rows)
    return error_class(names=names, details={"items": [{"item_id": r.id, "name": display_name(r),
                                                         **{k: v[r.id] for k, v in extra.items()}} for r in rows]})


def price(*, household: Any, shop_id: int, items: Iterable[Mapping[str, Any]], now: datetime) -> Basket:
    """Lock the basket's items and check them for ``household`` (id, community_id, timezone),
    whose ledger account the caller has locked; the priced basket, or the refusal. One
    statement: the items locked in id order, each limited one with what the household took in
    its period (read after the household's lock, so no concurrent basket of the household is missed)."""
    quantities = merged(items)
    starts = period_starts(household.timezone, now)
    rows = execute(_priced_lock(dialect_name()), {
        "ids": sorted(quantities), "shop_id": shop_id, "item_community_id": shelf_community(shop_id),
        "household_id": household.id, "household_community_id": household.community_id,
        "s_month": starts["month"], "s_quarter": starts["quarter"], "s_year": starts["year"]}).all()
    if len(rows) != len(quantities):
        found = {r.id for r in rows}
        raise ItemNotFound(details={"item_ids": sorted(set(quantities) - found)})
    unavailable = [r for r in rows if not _available(r, now)]
    if unavailable:
        raise _refusal(ItemUnavailable, unavailable)
    starred = [r for r in rows if r.min_stars]
    if starred:
        level = stars.household_stars(household.community_id, household.id)
        short = [r for r in starred if level < r.min_stars]
        if short:
            raise _refusal(StarsRequired, short, min_stars={r.id: r.min_stars for r in short},
                           stars={r.id: level for r in short})
    over = [r for r in rows if r.limit_period and int(r.taken) + quantities[r.id] > r.limit_count]
    if over:
        raise _refusal(HouseholdLimitReached, over, limit={r.id: {"period": r.limit_period, "count": r.limit_count}
                                                           for r in over},
                       taken={r.id: int(r.taken) for r in over})
    short = [r for r in rows if r.stock is not None and r.stock < quantities[r.id]]
    if short:
        raise _refusal(OutOfStock, short, requested={r.id: quantities[r.id] for r in short},
                       left={r.id: int(r.stock) for r in short})
    return Basket(shop_id=shop_id, household_id=household.id,
                  lines=tuple(Line(item=r, quantity=quantities[r.id]) for r in rows))


@functools.lru_cache(maxsize=2)
def _priced_lock(dialect: str) -> sa.Select:
    """:func:`stock.items_lock` with, per limited item, the units the household took in the item's
    period (redemptions not reversed) plus those its held reservations keep (built once)."""
    items, lines, redemptions = ShelfItem.__table__, RedemptionLine.__table__, Redemption.__table__
    held_lines, reservations = ReservationLine.__table__, Reservation.__table__
    start = sa.case((items.c.limit_period == "month", sa.bindparam("s_month", type_=UTCDateTime)),
                    (items.c.limit_period == "quarter", sa.bindparam("s_quarter", type_=UTCDateTime)),
                    else_=sa.bindparam("s_year", type_=UTCDateTime))
    household, community = sa.bindparam("household_id"), sa.bindparam("household_community_id")
    # the household's lines are kept in its community; the items in the shop's (shelf_community)
    taken = (sa.select(sa.func.coalesce(sa.func.sum(lines.c.quantity), 0))
             .select_from(lines.join(redemptions, sa.and_(redemptions.c.id == lines.c.redemption_id,
                                                          redemptions.c.community_id == lines.c.community_id)))
             .where(lines.c.community_id == community, lines.c.household_id == household,
                    lines.c.item_id == items.c.id, lines.c.created_at >= start,
                    redemptions.c.reversed_at.is_(None)).scalar_subquery())
    held = (sa.select(sa.func.coalesce(sa.func.sum(held_lines.c.quantity), 0))
            .select_from(held_lines.join(reservations, sa.and_(reservations.c.id == held_lines.c.reservation_id,
                                                               reservations.c.community_id == held_lines.c.community_id)))
            .where(held_lines.c.community_id == community, held_lines.c.household_id == household,
                   held_lines.c.item_id == items.c.id, reservations.c.status == "held").scalar_subquery())
    stmt = (sa.select(items.c.id, items.c.community_id, items.c.shop_id, items.c.name_zh, items.c.name_en,
                      items.c.points, items.c.stock, items.c.limit_period, items.c.limit_count, items.c.min_stars,
                      items.c.available_from, items.c.available_until, items.c.is_active,
                      sa.case((items.c.limit_period.is_(None), 0), else_=taken + held).label("taken"))
            .where(items.c.community_id == sa.bindparam("item_community_id"),
                   items.c.id.in_(sa.bindparam("ids", expanding=True)), items.c.shop_id == sa.bindparam("shop_id"))
            .order_by(items.c.id))
    return lock_for_update(stmt, dialect, of=items)


def _available(item: Any, now: datetime) -> bool:
    from pointsbank.shelf.services.catalogue import is_available

    return is_available(item, now)


def period_starts(tz: str, now: datetime) -> dict[str, datetime]:
    """The start (UTC) of the current month, quarter and year in the zone ``tz``."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    month = datetime(local.year, local.month, 1, tzinfo=zone)
    return {"month": month.astimezone(ZoneInfo("UTC")),
            "quarter": periods.quarter_of(local.date()).bounds(tz)[0],
            "year": periods.year_of(local.date()).bounds(tz)[0]}


def taken_in_period(household: Any, items: Sequence[Any], now: datetime) -> dict[int, int]:
    """item id → units this household took in the item's current limit period (redemptions
    not reversed) plus those its reservations still hold. Two statements; none without items."""
    if not items:
        return {}
    starts = period_starts(household.timezone, now)
    ids = sorted({i.id for i in items})
    lines, redemptions = RedemptionLine.__table__, Redemption.__table__
    sums = [sa.func.coalesce(sa.func.sum(sa.case((lines.c.created_at >= sa.bindparam(f"s_{p}", starts[p],
                                                                                      type_=lines.c.created_at.type),
                                                  lines.c.quantity), else_=0)), 0).label(p)
            for p in ("month", "quarter", "year")]
    stmt = (sa.select(lines.c.item_id, *sums)
            .join(redemptions, sa.and_(redemptions.c.community_id == lines.c.community_id,
                                       redemptions.c.id == lines.c.redemption_id))
            .where(lines.c.community_id == household.community_id, lines.c.household_id == household.id,
                   lines.c.item_id.in_(ids),
                   lines.c.created_at >= starts["year"], redemptions.c.reversed_at.is_(None))
            .group_by(lines.c.item_id))
    periods_of = {i.id: i.limit_period for i in items}
    taken = {row.item_id: int(getattr(row, periods_of[row.item_id])) for row in execute(stmt)}
    held_lines, reservations = ReservationLine.__table__, Reservation.__table__
    held = (sa.select(held_lines.c.item_id, sa.func.sum(held_lines.c.quantity))
            .join(reservations, sa.and_(reservations.c.community_id == held_lines.c.community_id,
                                        reservations.c.id == held_lines.c.reservation_id))
            .where(held_lines.c.community_id == household.community_id, held_lines.c.household_id == household.id,
                   held_lines.c.item_id.in_(ids),
                   reservations.c.status == "held").group_by(held_lines.c.item_id))
    for item_id, quantity in execute(held):
        taken[item_id] = taken.get(item_id, 0) + int(quantity)
    return taken


def record(basket: Basket, *, community_id: int, created_at: datetime, actor_id: int | None,
           redemption_id: int | None = None, reservation_id: int | None = None,
           reason: str = "redemption") -> None:
    """The basket's stock movements (``redemption`` or ``reservation``: out of the shelf), the
    tracked items' new stock, and its lines (redemption lines, or reservation lines), for items
    :func:`price` locked: one statement on PostgreSQL (arrays unnested into the three writes),
    executemany elsewhere."""
    after = [None if line.item.stock is None else int(line.item.stock) - line.quantity for line in basket.lines]
    if is_postgresql():
        execute(_record_statement(redemption_id is not None), {
            "items": [line.item.id for line in basket.lines], "changes": [-line.quantity for line in basket.lines],
            "after": after, "item_communities": [line.item.community_id for line in basket.lines],
            "quantities": [line.quantity for line in basket.lines],
            "points_each": [int(line.item.points) for line in basket.lines],
            "reason": reason, "actor_id": actor_id, "redemption_id": redemption_id,
            "reservation_id": reservation_id, "created_at": created_at, "community_id": community_id,
            "household_id": basket.household_id})
        return
    movements, lines = [], []
    for line, stock_after in zip(basket.lines, after):
        item = line.item
        movements.append({"community_id": item.community_id, "item_id": item.id, "change": -line.quantity,
                          "reason": reason, "stock_after": stock_after, "note": None, "actor_id": actor_id,
                          "redemption_id": redemption_id, "reservation_id": reservation_id,
                          "created_at": created_at})
        row = {"community_id": community_id, "item_id": item.id, "household_id": basket.household_id,
               "quantity": line.quantity, "points_each": int(item.points), "points": line.points}
        if redemption_id is not None:
            lines.append({**row, "redemption_id": redemption_id, "created_at": created_at})
        else:
            lines.append({**row, "reservation_id": reservation_id})
    write_movements(movements)
    table = RedemptionLine.__table__ if redemption_id is not None else ReservationLine.__table__
    execute(sa.insert(table), lines)


@functools.lru_cache(maxsize=2)
def _record_statement(for_redemption: bool) -> sa.TextClause:
    """Movements, stocks and lines of a basket in one PostgreSQL statement (built once per kind)."""
    if for_redemption:
        lines = ("INSERT INTO redemption_lines (community_id, redemption_id, item_id, household_id, quantity, "
                 "points_each, points, created_at) SELECT :community_id, CAST(:redemption_id AS bigint), v.i, "
                 ":household_id, v.q, v.pe, v.q * v.pe, :created_at")
    else:
        lines = ("INSERT INTO reservation_lines (community_id, reservation_id, item_id, household_id, quantity, "
                 "points_each, points) SELECT :community_id, CAST(:reservation_id AS bigint), v.i, :household_id, "
                 "v.q, v.pe, v.q * v.pe")
    return sa.text(
        "WITH m AS (INSERT INTO stock_movements (community_id, item_id, change, reason, stock_after, actor_id, "
        "redemption_id, reservation_id, created_at) SELECT v.c, v.i, v.ch, CAST(:reason AS varchar), v.sa, "
        "CAST(:actor_id AS integer), CAST(:redemption_id AS bigint), CAST(:reservation_id AS bigint), :created_at "
        "FROM unnest(CAST(:item_communities AS integer[]), CAST(:items AS integer[]), CAST(:changes AS bigint[]), "
        "CAST(:after AS bigint[])) AS v (c, i, ch, sa)), "
        "u AS (UPDATE shelf_items SET stock = v.sa FROM unnest(CAST(:item_communities AS integer[]), "
        "CAST(:items AS integer[]), CAST(:after AS bigint[])) AS v (c, i, sa) "
        "WHERE shelf_items.community_id = v.c AND shelf_items.id = v.i AND v.sa IS NOT NULL) "
        + lines + " FROM unnest(CAST(:items AS integer[]), CAST(:quantities AS integer[]), "
        "CAST(:points_each AS integer[])) AS v (i, q, pe)"
    ).bindparams(sa.bindparam("created_at", type_=UTCDateTime))


def lines_of(redemption_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """redemption id → its basket lines (empty for a typed-points redemption)."""
    ids = sorted(set(redemption_ids))
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return found
    lines, items = RedemptionLine.__table__, ShelfItem.__table__
    for row in db.session.execute(
            sa.select(lines.c.redemption_id, lines.c.item_id, lines.c.quantity, lines.c.points_each, lines.c.points,
                      items.c.name_zh, items.c.name_en).join(items, items.c.id == lines.c.item_id)
            .where(lines.c.redemption_id.in_(ids)).order_by(lines.c.redemption_id, lines.c.item_id)):
        found[row.redemption_id].append({"item_id": row.item_id, "name": {"zh": row.name_zh, "en": row.name_en},
                                         "quantity": row.quantity, "points_each": row.points_each,
                                         "points": row.points})
    return found
