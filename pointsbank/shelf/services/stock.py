"""The stock ledger: every change of an item's stock is an append-only movement.

An item's ``stock`` is a cache of the sum of its movements, updated in the same database
transaction as the movement, under the item's row lock (PostgreSQL ``FOR UPDATE``; SQLite
holds its write lock from ``BEGIN IMMEDIATE``), and never below zero::

    move_stock(staff, 7, change=20, reason="delivery")   # stock 0 → 20, movement +20
    move_stock(staff, 7, change=-1, reason="loss")       # 20 → 19, movement −1
    move_stock(staff, 7, change=17, reason="count")      # counted 17: 19 → 17, movement −2

``count`` takes the quantity counted on the shelf and records the difference (0 when the count
found the stock right). Redemptions, reservations and their release write movements too
(:mod:`pointsbank.shelf.services.baskets`). An unlimited item (``stock`` null) records the
movements of its redemptions without a ``stock_after``; staff have nothing to count or move on it.

Lock order, shared with every writer: voucher or reservation, then ledger accounts, then items
(in id order) — so that a basket, a reservation and a delivery never wait on each other in a circle.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth.models import User
from pointsbank.database import execute, lock_for_update, lock_row
from pointsbank.extensions import db
from pointsbank.pagination import keyset_page
from pointsbank.shelf.models import MANUAL_REASONS, ShelfItem, StockMovement
from pointsbank.shelf.refusals import InvalidItem, ItemNotFound, StockNotTracked, StockWouldBeNegative


def lock_item(item_id: int, community_id: int) -> ShelfItem:
    """The item row, locked until the unit of work ends, re-read so its stock is the committed one."""
    item = lock_row(ShelfItem, item_id, community_id)
    if item is None:
        raise ItemNotFound()
    return item


def record_movement(item: ShelfItem, *, change: int, reason: str, note: str | None = None,
                    actor_id: int | None = None, redemption_id: int | None = None,
                    reservation_id: int | None = None) -> StockMovement:
    """One movement of a locked item, and its cached stock with it (never below zero)."""
    stock_after = None
    if item.stock is not None:
        stock_after = int(item.stock) + change
        if stock_after < 0:
            raise StockWouldBeNegative(stock=item.stock, details={"item_id": item.id, "stock": item.stock})
        item.stock = stock_after
    movement = StockMovement(community_id=item.community_id, item_id=item.id, change=change, reason=reason,
                             stock_after=stock_after, note=note, actor_id=actor_id, redemption_id=redemption_id,
                             reservation_id=reservation_id, created_at=clock.now())
    db.session.add(movement)
    db.session.flush()
    return movement


def movement_view(movement: Any) -> dict[str, Any]:
    return {"id": movement.id, "item_id": movement.item_id, "change": movement.change, "reason": movement.reason,
            "stock_after": movement.stock_after, "note": movement.note, "actor_id": movement.actor_id,
            "redemption_id": movement.redemption_id, "reservation_id": movement.reservation_id,
            "created_at": movement.created_at}


def move_stock(actor: User, item_id: int, *, change: int, reason: str, note: str | None = None) -> dict[str, Any]:
    """Record a delivery, a donation, a loss or a count (staff or an admin of a partner community).

    ``delivery``/``donation`` take a positive change, ``loss`` a positive or negative quantity
    lost (recorded as negative), ``count`` the quantity counted (≥ 0; the difference is
    recorded). Answers the movement with the item's new stock. Refusals: ``stock_not_tracked``
    422 for an unlimited item, ``stock_negative`` 422 below zero, ``invalid_item`` 422."""
    from pointsbank.shelf.services.catalogue import item_for

    seen, _ = item_for(actor, item_id, manage=True)  # scope first: a stranger learns nothing, and waits on no lock
    if reason not in MANUAL_REASONS:
        raise InvalidItem(reason=f"reason {reason}", details={"field": "reason"})
    item = lock_item(item_id, seen.community_id)
    if item.stock is None:
        raise StockNotTracked()
    if reason == "count":
        if change < 0:
            raise InvalidItem(reason="a count is 0 or more", details={"field": "change"})
        change = change - int(item.stock)
    elif reason == "loss":
        change = -abs(change)
    elif change <= 0:
        raise InvalidItem(reason=f"a {reason} adds stock: change must be 1 or more", details={"field": "change"})
    if change == 0 and reason != "count":
        raise InvalidItem(reason="change must not be 0", details={"field": "change"})
    movement = record_movement(item, change=change, reason=reason, note=(note or None) and note[:255],
                               actor_id=actor.id)
    audit.record(actor, f"shelf.stock_{reason}", community_id=item.community_id, target_type="shelf_item",
                 target_id=item.id, data={"change": change, "stock": item.stock, "note": note})
    return {**movement_view(movement), "stock": item.stock}


def list_movements(actor: User, item_id: int, *, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    """An item's movements, newest first (staff, admins and the shop's cashiers)."""
    from pointsbank.errors import NotFound
    from pointsbank.shelf.services.catalogue import item_for

    item, _ = item_for(actor, item_id)
    if actor.role not in ("admin", "staff", "cashier"):
        raise NotFound()
    page = keyset_page(sa.select(StockMovement).where(StockMovement.item_id == item.id), StockMovement.id,
                       limit=limit, cursor=cursor)
    page["items"] = [movement_view(m) for m in page["items"]]
    return page


# --- the basket's statements (Core, built once) --------------------------------------------

#: (engine, shop id) → the community its shelf belongs to (a shop's home never changes)
_shelf_communities: dict[tuple[str, int], int] = {}


def shelf_community(shop_id: int) -> int:
    """The community a shop's shelf belongs to: its home, where its items and their stock
    movements are kept (``pointsbank.tenancy``: one shard). A basket a partner community's
    household takes there touches two communities — the points in the household's, the goods in
    the shop's. Read once per shop and process (``shops`` is a reference table)."""
    key = (str(db.engine.url), shop_id)
    found = _shelf_communities.get(key)
    if found is None:
        from pointsbank.redeem.models import Shop

        found = db.session.scalar(sa.select(Shop.community_id).where(Shop.id == shop_id))
        if found is None:
            raise ItemNotFound()
        _shelf_communities[key] = found
    return found


@functools.lru_cache(maxsize=2)
def items_lock(dialect: str) -> sa.Select:
    """The items of a basket at one shop (``item_community_id``: :func:`shelf_community`), locked in id order."""
    items = ShelfItem.__table__
    stmt = (sa.select(items.c.id, items.c.community_id, items.c.shop_id, items.c.name_zh, items.c.name_en,
                      items.c.points, items.c.stock, items.c.limit_period, items.c.limit_count, items.c.min_stars,
                      items.c.available_from, items.c.available_until, items.c.is_active)
            .where(items.c.community_id == sa.bindparam("item_community_id"),
                   items.c.id.in_(sa.bindparam("ids", expanding=True)), items.c.shop_id == sa.bindparam("shop_id"))
            .order_by(items.c.id))
    return lock_for_update(stmt, dialect, of=items)


@functools.lru_cache(maxsize=1)
def _stock_update() -> sa.Update:
    items = ShelfItem.__table__
    return sa.update(items).where(items.c.community_id == sa.bindparam("i_community_id"),
                                  items.c.id == sa.bindparam("i_id")).values(stock=sa.bindparam("i_stock"))


def write_movements(rows: list[dict[str, Any]]) -> None:
    """Movements of items the caller has locked (``items_lock``), each row with the ``stock_after``
    computed from the locked stock; the tracked items' cached stock follows in one executemany."""
    if not rows:
        return
    execute(sa.insert(StockMovement.__table__), rows)
    updates = [{"i_community_id": r["community_id"], "i_id": r["item_id"], "i_stock": r["stock_after"]}
               for r in rows if r["stock_after"] is not None]
    if updates:
        execute(_stock_update(), updates)


# --- verification --------------------------------------------------------------------------

@dataclass
class StockReport:
    items: int = 0
    movements: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def verify_stock(community_id: int | None = None) -> StockReport:
    """Every tracked item's cached stock equals the sum of its movements, and no movement left
    a stock below zero; one ``GROUP BY`` over the movements."""
    items, movements = ShelfItem.__table__, StockMovement.__table__
    sums = (sa.select(movements.c.community_id, movements.c.item_id, sa.func.sum(movements.c.change).label("total"),
                      sa.func.count().label("n"), sa.func.min(movements.c.stock_after).label("lowest"))
            .group_by(movements.c.community_id, movements.c.item_id).subquery())
    stmt = (sa.select(items.c.id, items.c.stock, sums.c.total, sums.c.n, sums.c.lowest)
            .outerjoin(sums, sa.and_(sums.c.community_id == items.c.community_id, sums.c.item_id == items.c.id))
            .order_by(items.c.id))
    if community_id is not None:
        stmt = stmt.where(items.c.community_id == community_id)
    report = StockReport()
    for row in db.session.execute(stmt):
        report.items += 1
        report.movements += int(row.n or 0)
        if row.stock is None:
            continue
        total = int(row.total or 0)
        if int(row.stock) != total:
            report.differences.append(f"item {row.id}: cached stock {row.stock}, sum of movements {total}")
        if row.lowest is not None and int(row.lowest) < 0:
            report.differences.append(f"item {row.id}: a movement left the stock at {row.lowest}")
    return report
