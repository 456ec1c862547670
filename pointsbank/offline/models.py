"""The shop without signal: the community's offline setting, the cashiers' devices, and every
offline redemption a device synced (accepted, double spend or refused), once per client id.

* ``offline_settings``: one row per community that ever set ``offline`` (none: disabled).
* ``devices``: a cashier's phone, registered as a device of its shop (``community_id`` is the
  shop's home community); ``revoked_at`` set once, after which every sync from it is refused.
* ``offline_redemptions``: what a device queued and synced. ``client_id`` (the phone's UUID)
  is unique within the device's community, so an item is taken at most once however often it
  is sent. ``voucher_community_id`` is the community whose household pays (its staff follow
  the double spends up).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import BigId, UTCDateTime, utcnow
from pointsbank.extensions import db

OFFLINE_STATUSES = ("accepted", "double_spend", "refused")


class OfflineSettings(db.Model):
    __tablename__ = "offline_settings"
    __table_args__ = (
        sa.CheckConstraint("max_points_per_device >= 1", name="max_points_positive"),
        sa.CheckConstraint("max_hours >= 1", name="max_hours_positive"),
    )

    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    #: the points a device may hold redeemed offline and not yet synced
    max_points_per_device: Mapped[int] = mapped_column(default=500)
    #: how long after an offline redemption the device must have synced it
    max_hours: Mapped[int] = mapped_column(default=24)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Device(db.Model):
    __tablename__ = "devices"
    __table_args__ = (sa.Index("ix_devices_community_id_shop_id", "community_id", "shop_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id"))
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id"))
    name: Mapped[str] = mapped_column(sa.String(100))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class OfflineRedemption(db.Model):
    __tablename__ = "offline_redemptions"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "client_id"),
        sa.CheckConstraint(sa.text("status IN ('accepted','double_spend','refused')"), name="status"),
        sa.Index("ix_offline_redemptions_device_id_redeemed_at", "device_id", "redeemed_at"),
        sa.Index("ix_offline_redemptions_voucher_community_id_status", "voucher_community_id", "status"),
        sa.Index("ix_offline_redemptions_voucher_id", "voucher_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: the device's community (its shop's home)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id"))
    device_id: Mapped[int] = mapped_column(sa.ForeignKey("devices.id"))
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id"))
    client_id: Mapped[str] = mapped_column(sa.String(36))
    #: the signed code as scanned (kept as evidence, a refused one too)
    code: Mapped[str] = mapped_column(sa.String(512))
    voucher_id: Mapped[str | None] = mapped_column(sa.ForeignKey("vouchers.id"))
    voucher_community_id: Mapped[int | None] = mapped_column(sa.ForeignKey("communities.id"))
    household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("households.id"))
    points: Mapped[int] = mapped_column()
    point_value_fen: Mapped[int | None] = mapped_column()
    value_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    synced_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str | None] = mapped_column(sa.String(48))
    #: accepted: the redemption it became
    redemption_id: Mapped[int | None] = mapped_column(sa.ForeignKey("redemptions.id"))
    #: accepted: the redemption's transaction; double spend: the offline_overdraft
    transaction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ledger_transactions.id"))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    settle_note: Mapped[str | None] = mapped_column(sa.String(500))
