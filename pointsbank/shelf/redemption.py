"""The shelf's part of a redemption at the counter, called by ``redeem.redemptions.redeem``.

The redemption keeps its order — code, voucher lock, account locks, ledger posting, receipt —
and calls in here twice: :func:`price_for_voucher` after the accounts are locked (locks the
items, checks and prices the basket) and :func:`record` after the redemption row exists (stock
movements and lines). Both run in the redemption's unit of work.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Mapping, Sequence

import sqlalchemy as sa

from pointsbank.community.models import Community
from pointsbank.database import dialect_name, execute
from pointsbank.extensions import db
from pointsbank.shelf.refusals import PointsOrItems
from pointsbank.shelf.services.baskets import Basket, price, record

__all__ = ["check_points_or_items", "price_for_voucher", "record", "return_stock", "with_lines"]


def check_points_or_items(points: int | None, items: Sequence[Any] | None) -> None:
    """Exactly one of the two (400 ``points_or_items``)."""
    if (points is None) == (items is None):
        raise PointsOrItems()


class _VoucherHousehold:
    """The voucher's household as the basket checks need it: id, community, the community's time
    zone (read with the voucher when its lock statement carries it)."""

    def __init__(self, voucher: Any) -> None:
        self.id, self.community_id = voucher.household_id, voucher.community_id
        self._timezone = getattr(voucher, "timezone", None)

    @property
    def timezone(self) -> str:
        if self._timezone is None:
            self._timezone = execute(_timezone(), {"community_id": self.community_id}).scalar_one()
        return self._timezone


@functools.lru_cache(maxsize=1)
def _timezone() -> sa.Select:
    communities = Community.__table__
    return sa.select(communities.c.timezone).where(communities.c.id == sa.bindparam("community_id"))


def price_for_voucher(voucher: Any, shop_id: int, items: Sequence[Mapping[str, Any]], now: datetime,
                      locked: Mapping[int, Any] | None) -> Basket:
    """The basket for the voucher's household, whose ledger account the redemption has locked
    (``locked``; when the shop's account was only just opened, the household's is locked here)."""
    if locked is None:
        from pointsbank.ledger import services as ledger

        ledger.lock_household_accounts(voucher.community_id, [voucher.household_id])
    return price(household=_VoucherHousehold(voucher), shop_id=shop_id, items=items, now=now)


def with_lines(receipts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Receipts with their basket ``lines`` (a typed-points receipt has none: no key), and the
    ``reservation_id`` of a collected reservation; two statements for a whole page."""
    from pointsbank.shelf.models import Reservation
    from pointsbank.shelf.services.baskets import lines_of

    if not receipts:
        return receipts
    ids = [r["id"] for r in receipts]
    lines = lines_of(ids)
    collected = dict(db.session.execute(sa.select(Reservation.redemption_id, Reservation.id).where(
        Reservation.redemption_id.in_(ids))).tuples().all())
    for receipt in receipts:
        if lines.get(receipt["id"]):
            receipt["lines"] = lines[receipt["id"]]
        if receipt["id"] in collected:
            receipt["reservation_id"] = collected[receipt["id"]]
    return receipts


#: the note of the movements that put a reversed basket's goods back on the shelf
REVERSAL_NOTE = "redemption reversed"


def return_stock(redemption_id: int, *, actor_id: int | None, now: datetime) -> int:
    """A reversed redemption's goods back on the shelf: one ``release`` movement per line (with
    the redemption's id), under the items' row locks (id order, after the redemption's row and
    its accounts: the shared lock order). A typed-points redemption has no lines and moves
    nothing. Answers the units returned. The caller reverses each redemption once (its row lock
    and ``reversed_at``), so the goods come back once."""
    from pointsbank.shelf.models import RedemptionLine
    from pointsbank.shelf.services.stock import items_lock, write_movements

    from pointsbank.redeem.models import Redemption
    from pointsbank.shelf.services.stock import shelf_community

    community_id, shop_id = db.session.execute(sa.select(Redemption.community_id, Redemption.shop_id).where(
        Redemption.id == redemption_id)).one()
    lines = list(db.session.execute(sa.select(RedemptionLine.item_id, RedemptionLine.quantity).where(
        RedemptionLine.community_id == community_id, RedemptionLine.redemption_id == redemption_id)
        .order_by(RedemptionLine.item_id)))
    if not lines:
        return 0
    locked = {row.id: row for row in execute(items_lock(dialect_name()), {
        "ids": [line.item_id for line in lines], "shop_id": shop_id, "item_community_id": shelf_community(shop_id)})}
    movements = []
    for line in lines:
        item = locked[line.item_id]
        after = None if item.stock is None else int(item.stock) + int(line.quantity)
        movements.append({"community_id": item.community_id, "item_id": item.id, "change": int(line.quantity),
                          "reason": "release", "stock_after": after, "note": REVERSAL_NOTE, "actor_id": actor_id,
                          "redemption_id": redemption_id, "reservation_id": None, "created_at": now})
    write_movements(movements)
    return sum(int(line.quantity) for line in lines)
