"""The shelf's tables: items of a shop's catalogue, the stock ledger, basket lines and reservations.

Invariants (checked by ``pointsbank stock verify``):

* an item's ``stock`` is ``NULL`` (unlimited) or the sum of its ``stock_movements``, never
  below zero (a check constraint, and the movement's ``stock_after >= 0``)::

      delivery +20, redemption −2, loss −1, count −1   →   stock 16

* movements are append-only; a count correction records the difference it found;
* a redemption line or a reservation line names its household, so a per-household limit
  ("one bag of rice a month") is a sum over one index;
* every table carries ``community_id`` — the shop's home community — and every unique key
  includes it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import BigId, UTCDateTime, tenant_community_id, tenant_id, utcnow
from pointsbank.extensions import db
from pointsbank.tenancy import tenant_key

LIMIT_PERIODS = ("month", "quarter", "year")
#: what staff may record by hand; the rest come from the counter and the reservations
MANUAL_REASONS = ("delivery", "donation", "loss", "count")
MOVEMENT_REASONS = MANUAL_REASONS + ("redemption", "reservation", "release")
RESERVATION_STATUSES = ("held", "collected", "cancelled", "expired")


def _in(column: str, values: tuple[str, ...]) -> sa.TextClause:
    return sa.text(f"{column} IN ({', '.join(repr(v) for v in values)})")


class ShelfItem(db.Model):
    """A good on a shop's shelf, priced in points."""

    __tablename__ = "shelf_items"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "shop_id", "barcode", name="uq_shelf_items_barcode"),
        sa.CheckConstraint("points > 0", name="points_positive"),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name="stock_nonnegative"),
        sa.CheckConstraint(sa.text("limit_period IS NULL OR limit_period IN ('month','quarter','year')"),
                           name="limit_period"),
        sa.CheckConstraint("(limit_period IS NULL) = (limit_count IS NULL)", name="limit_complete"),
        sa.CheckConstraint("limit_count IS NULL OR limit_count > 0", name="limit_count_positive"),
        sa.Index("ix_shelf_items_shop_id_id", "shop_id", "id"),
        tenant_key("photo_evidence_id", "evidence_files"),
    )

    id: Mapped[int] = tenant_id(sa.Integer())
    community_id: Mapped[int] = tenant_community_id()
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id"))
    name_zh: Mapped[str] = mapped_column(sa.String(100))
    name_en: Mapped[str] = mapped_column(sa.String(100))
    points: Mapped[int] = mapped_column()
    #: NULL: unlimited; else the sum of the item's movements, updated under the item's row lock
    stock: Mapped[int | None] = mapped_column(sa.BigInteger)
    barcode: Mapped[str | None] = mapped_column(sa.String(64))
    photo_evidence_id: Mapped[int | None] = mapped_column(BigId)
    limit_period: Mapped[str | None] = mapped_column(sa.String(8))
    limit_count: Mapped[int | None] = mapped_column()
    #: stored now; checked against :func:`pointsbank.regions.stars.household_stars`
    min_stars: Mapped[int | None] = mapped_column()
    available_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    available_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockMovement(db.Model):
    """One change of an item's stock; append-only. Kept in the shop's community with its item
    (``stock.shelf_community``); the redemption or reservation it names belongs to the household's
    community, which may be another (a partner's): a plain column, not a foreign key — distributed
    PostgreSQL cannot check a key from one community's shard into another's."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        sa.CheckConstraint(_in("reason", MOVEMENT_REASONS), name="reason"),
        sa.CheckConstraint("stock_after IS NULL OR stock_after >= 0", name="stock_after_nonnegative"),
        # an item's history and its statement both start from the item
        sa.Index("ix_stock_movements_item_id_id", "item_id", "id"),
        tenant_key("item_id", "shelf_items"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    item_id: Mapped[int] = mapped_column()
    #: signed; 0 only for a count that found the stock right
    change: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(16))
    #: the cached stock after this movement (NULL for an unlimited item)
    stock_after: Mapped[int | None] = mapped_column(sa.BigInteger)
    note: Mapped[str | None] = mapped_column(sa.String(255))
    actor_id: Mapped[int | None] = mapped_column()
    redemption_id: Mapped[int | None] = mapped_column(BigId)
    reservation_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RedemptionLine(db.Model):
    """One item of a basket rung up (or of a reservation collected): what it cost and for whom. Kept
    in the household's community with its redemption; the item is the shop's (its community may be
    another, a partner's), so ``item_id`` is a plain column (see :class:`StockMovement`)."""

    __tablename__ = "redemption_lines"
    __table_args__ = (
        # led by the redemption: it also finds a receipt's lines (one index less to write per line)
        sa.UniqueConstraint("redemption_id", "item_id", "community_id", name="uq_redemption_lines_item"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.Index("ix_redemption_lines_household_item", "household_id", "item_id", "created_at"),
        tenant_key("redemption_id", "redemptions"),
        tenant_key("household_id", "households"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    redemption_id: Mapped[int] = mapped_column(BigId)
    item_id: Mapped[int] = mapped_column()
    household_id: Mapped[int] = mapped_column()
    quantity: Mapped[int] = mapped_column()
    points_each: Mapped[int] = mapped_column()
    points: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reservation(db.Model):
    """Goods put aside for a household until the redemption day: points in escrow, stock held."""

    __tablename__ = "reservations"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "pickup_code", name="uq_reservations_pickup_code"),
        sa.CheckConstraint(_in("status", RESERVATION_STATUSES), name="status"),
        sa.CheckConstraint("points > 0", name="points_positive"),
        sa.Index("ix_reservations_status_expires_at", "status", "expires_at"),
        sa.Index("ix_reservations_household_id_id", "household_id", "id"),
        sa.Index("ix_reservations_shop_id_pickup_code", "shop_id", "pickup_code"),
        tenant_key("household_id", "households"),
        tenant_key("hold_transaction_id", "ledger_transactions"),
        tenant_key("closing_transaction_id", "ledger_transactions"),
        tenant_key("redemption_id", "redemptions"),
    )

    id: Mapped[int] = tenant_id()
    #: the household's community: its points are held in that community's escrow
    community_id: Mapped[int] = tenant_community_id()
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id"))
    household_id: Mapped[int] = mapped_column()
    pickup_code: Mapped[str] = mapped_column(sa.String(16))
    points: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(16), default="held")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column()
    hold_transaction_id: Mapped[int] = mapped_column(BigId)
    closing_transaction_id: Mapped[int | None] = mapped_column(BigId)
    redemption_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReservationLine(db.Model):
    __tablename__ = "reservation_lines"
    __table_args__ = (
        sa.UniqueConstraint("reservation_id", "item_id", "community_id", name="uq_reservation_lines_item"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.Index("ix_reservation_lines_household_item", "household_id", "item_id"),
        tenant_key("reservation_id", "reservations"),
        tenant_key("household_id", "households"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    reservation_id: Mapped[int] = mapped_column(BigId)
    item_id: Mapped[int] = mapped_column()
    household_id: Mapped[int] = mapped_column()
    quantity: Mapped[int] = mapped_column()
    points_each: Mapped[int] = mapped_column()
    points: Mapped[int] = mapped_column()


class ShelfSettings(db.Model):
    """A community's wishes about its shelf: whether its notice board shows the items most redeemed.
    No row: the defaults (not shown)."""

    __tablename__ = "shelf_settings"

    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id"), primary_key=True)
    board_most_redeemed: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
