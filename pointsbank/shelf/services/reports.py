"""The stock statement of a shop for a quarter (or a year), and its CSV/XLSX export.

Per item, computed in the database from the stock movements and the redemption lines::

    opening  in   out  loss  left  points   (left = opening + in − out − loss)
       20    10    12    1    17    720

``in``: deliveries, donations, counts that found more; ``out``: redemptions and reservations
(net of reservations released); ``loss``: losses and counts that found less; ``points``: the
points of the redemption lines of the period (not reversed).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pointsbank.auth.models import User
from pointsbank.community.models import Community
from pointsbank.extensions import db
from pointsbank.redeem import shops
from pointsbank.redeem.models import Redemption
from pointsbank.reports import exports, periods
from pointsbank.shelf.models import RedemptionLine, ShelfItem, StockMovement

#: a text cell starting with one of these is a formula to a spreadsheet program
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading ``'`` (OWASP's advice);
    numbers and everything else are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def stock_statement(actor: User, shop_id: int, period: str) -> dict[str, Any]:
    """``{shop_id, shop_name, period, starts_at, ends_at, items: [{item_id, name, points_each,
    is_unlimited, opening, stock_in, out, loss, left, quantity, points}], totals}`` for staff and
    admins of a partner community and the shop's cashiers. The period may still be running (the
    figures so far); times are the shop's community's calendar. Unlimited items have no opening
    or left."""
    shop = shops.shop_for(actor, shop_id, "admin", "staff", "cashier")
    tz = db.session.get(Community, shop.community_id).timezone
    chosen = periods.parse(period)
    start, end = chosen.bounds(tz)
    m = StockMovement.__table__
    within = sa.and_(m.c.created_at >= start, m.c.created_at < end)
    gained = sa.or_(m.c.reason.in_(("delivery", "donation")), sa.and_(m.c.reason == "count", m.c.change > 0))
    lost = sa.or_(m.c.reason == "loss", sa.and_(m.c.reason == "count", m.c.change < 0))
    taken = m.c.reason.in_(("redemption", "reservation", "release"))

    def total(condition: Any, sign: int = 1) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, m.c.change * sign), else_=0)), 0)

    moved = (sa.select(m.c.item_id, total(m.c.created_at < start).label("opening"),
                       total(sa.and_(within, gained)).label("stock_in"),
                       total(sa.and_(within, taken), -1).label("out"),
                       total(sa.and_(within, lost), -1).label("loss"))
             .where(m.c.item_id.in_(sa.select(ShelfItem.id).where(ShelfItem.shop_id == shop.id)), m.c.created_at < end)
             .group_by(m.c.item_id).subquery())
    lines, redemptions = RedemptionLine.__table__, Redemption.__table__
    sold = (sa.select(lines.c.item_id, sa.func.sum(lines.c.quantity).label("quantity"),
                      sa.func.sum(lines.c.points).label("points"))
            .join(redemptions, sa.and_(redemptions.c.community_id == lines.c.community_id,
                                       redemptions.c.id == lines.c.redemption_id))
            .where(lines.c.created_at >= start, lines.c.created_at < end, redemptions.c.reversed_at.is_(None))
            .group_by(lines.c.item_id).subquery())
    items = ShelfItem.__table__
    stmt = (sa.select(items.c.id, items.c.name_zh, items.c.name_en, items.c.points, items.c.stock,
                      moved.c.opening, moved.c.stock_in, moved.c.out, moved.c.loss, sold.c.quantity,
                      sold.c.points.label("points_taken"))
            .outerjoin(moved, moved.c.item_id == items.c.id).outerjoin(sold, sold.c.item_id == items.c.id)
            .where(items.c.community_id == shop.community_id, items.c.shop_id == shop.id, items.c.created_at < end)
            .order_by(items.c.name_zh, items.c.id))
    rows = []
    for row in db.session.execute(stmt):
        unlimited = row.stock is None
        opening, stock_in, out, loss = (int(v or 0) for v in (row.opening, row.stock_in, row.out, row.loss))
        rows.append({"item_id": row.id, "name": {"zh": row.name_zh, "en": row.name_en}, "points_each": row.points,
                     "is_unlimited": unlimited, "opening": None if unlimited else opening, "stock_in": stock_in,
                     "out": out, "loss": loss, "left": None if unlimited else opening + stock_in - out - loss,
                     "quantity": int(row.quantity or 0), "points": int(row.points_taken or 0)})
    totals = {key: sum(r[key] for r in rows) for key in ("stock_in", "out", "loss", "quantity", "points")}
    return {"shop_id": shop.id, "shop_name": shop.name, "period": chosen.key, "starts_at": start, "ends_at": end,
            "items": rows, "totals": totals}


HEADERS = ["商品", "Item", "单价（积分）", "期初", "入库", "出库", "损耗", "期末", "兑换数量", "兑换积分"]


def statement_sheet(statement: dict[str, Any]) -> exports.Sheet:
    """The statement as one sheet; every text cell neutralised."""
    rows = [[neutralise(r["name"]["zh"]), neutralise(r["name"]["en"]), r["points_each"],
             "" if r["opening"] is None else r["opening"], r["stock_in"], r["out"], r["loss"],
             "不限" if r["left"] is None else r["left"], r["quantity"], r["points"]] for r in statement["items"]]
    t = statement["totals"]
    return exports.Sheet(neutralise(f"库存 {statement['period']}"), HEADERS, rows,
                         totals=["合计", "", "", "", t["stock_in"], t["out"], t["loss"], "", t["quantity"], t["points"]])


def export_stock_statement(actor: User, shop_id: int, period: str, fmt: str) -> exports.ExportFile:
    """The statement as CSV (UTF-8 with BOM) or XLSX through ``reports.exports``; text cells
    starting with = + - @ tab or CR get a leading ``'`` so no spreadsheet runs them as formulas."""
    statement = stock_statement(actor, shop_id, period)
    return exports.render(fmt, [statement_sheet(statement)], f"stock-shop{shop_id}-{statement['period']}")


def most_redeemed(actor: User, community_id: int, period: str | None = None, *, limit: int = 10) -> dict[str, Any]:
    """The goods the community's households took most in a quarter or a year (the running quarter
    by default), at every shop: ``{period, items: [{rank, item_id, name, shop_id, shop_name,
    quantity, points}]}``, from the redemption lines (reversed redemptions left out), by units.
    Totals per good only, never a household: any login of the community may read it (the notice
    board may show it where the community wishes)."""
    from pointsbank import clock
    from pointsbank.auth import policy

    community = policy.community_for(actor, community_id)
    chosen = periods.parse(period) if period else periods.current("quarter", community.timezone, clock.now())
    return {"community_id": community.id, "period": chosen.key, "items": _most_redeemed(community, chosen, limit)}


def _most_redeemed(community: Community, chosen: periods.Period, limit: int) -> list[dict[str, Any]]:
    from pointsbank.redeem.models import Shop

    start, end = chosen.bounds(community.timezone)
    lines, redemptions, items, shop_table = (RedemptionLine.__table__, Redemption.__table__, ShelfItem.__table__,
                                             Shop.__table__)
    quantity = sa.func.sum(lines.c.quantity).label("quantity")
    stmt = (sa.select(items.c.id, items.c.name_zh, items.c.name_en, items.c.shop_id, shop_table.c.name.label("shop"),
                      quantity, sa.func.sum(lines.c.points).label("points"))
            .select_from(lines.join(redemptions, redemptions.c.id == lines.c.redemption_id)
                         .join(items, items.c.id == lines.c.item_id).join(shop_table, shop_table.c.id == items.c.shop_id))
            .where(lines.c.community_id == community.id, lines.c.created_at >= start, lines.c.created_at < end,
                   redemptions.c.reversed_at.is_(None))
            .group_by(items.c.id, items.c.name_zh, items.c.name_en, items.c.shop_id, shop_table.c.name)
            .order_by(quantity.desc(), items.c.id).limit(limit))
    return [{"rank": rank, "item_id": row.id, "name": {"zh": row.name_zh, "en": row.name_en}, "shop_id": row.shop_id,
             "shop_name": row.shop, "quantity": int(row.quantity), "points": int(row.points)}
            for rank, row in enumerate(db.session.execute(stmt), start=1)]


#: how many goods a notice board lists
BOARD_ITEMS = 10


def board_most_redeemed(community: Community, period: str) -> list[dict[str, Any]] | None:
    """For the notice board of ``period`` (page and export, public or not): the goods taken most,
    if the community wishes them shown (``shelf.board_most_redeemed``), else ``None``. Totals per
    good only — never a household — so what a public board may show; the caller has already
    decided that the board itself may be read."""
    from pointsbank.shelf.services.settings import settings_of

    if not settings_of(community.id)["board_most_redeemed"]:
        return None
    return _most_redeemed(community, periods.parse(period), BOARD_ITEMS)


def most_redeemed_sheet(community: Community, period: str) -> exports.Sheet | None:
    """The notice board export's sheet of the goods taken most, where the community wishes it."""
    found = board_most_redeemed(community, period)
    if found is None:
        return None
    return exports.Sheet("兑换最多", ["名次", "商品", "Item", "商店", "数量", "积分"],
                         [[r["rank"], neutralise(r["name"]["zh"]), neutralise(r["name"]["en"]),
                           neutralise(r["shop_name"]), r["quantity"], r["points"]] for r in found])
