"""The shop without signal: the community's offline setting, the cashiers' devices, and every
offline redemption a device synced (accepted, double spend or refused), once per client id.

* ``offline_settings``: one row per community that ever set ``offline`` (none: disabled).
* ``devices``: a cashier's phone, registered as a device of its shop (``community_id`` is the
  shop's home community); ``revoked_at`` set once, after which every sync from it is refused.
* ``offline_redemptions``: what a device queued and synced. ``client_id`` (the phone's UUID)
  is unique within the device's community, so an item is taken at most once however often it
  is sent. ``voucher_community_id`` is the community whose household pays (its staff follow
  the double spends up). The voucher, household, redemption and ledger transaction it names are
  that community's rows, so they are plain columns, not foreign keys: a key from one community's
  shard to another's is one that distributed PostgreSQL cannot check (``pointsbank.tenancy``).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import BigId, UTCDateTime, tenant_community_id, tenant_id, utcnow
from pointsbank.extensions import db
from pointsbank.tenancy import tenant_key

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

    id: Mapped[int] = tenant_id(sa.Integer())
    community_id: Mapped[int] = tenant_community_id()
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id"))
    name: Mapped[str] = mapped_column(sa.String(100))
    created_by_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column()


class OfflineRedemption(db.Model):
    __tablename__ = "offline_redemptions"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "client_id"),
        sa.CheckConstraint(sa.text("status IN ('accepted','double_spend','refused')"), name="status"),
        sa.Index("ix_offline_redemptions_device_id_redeemed_at", "device_id", "redeemed_at"),
        sa.Index("ix_offline_redemptions_voucher_community_id_status", "voucher_community_id", "status"),
        sa.Index("ix_offline_redemptions_voucher_id", "voucher_id"),
        tenant_key("device_id", "devices"),
    )

    id: Mapped[int] = tenant_id()
    #: the device's community (its shop's home)
    community_id: Mapped[int] = tenant_community_id()
    device_id: Mapped[int] = mapped_column()
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id"))
    client_id: Mapped[str] = mapped_column(sa.String(36))
    #: the signed code as scanned (kept as evidence, a refused one too)
    code: Mapped[str] = mapped_column(sa.String(512))
    voucher_id: Mapped[str | None] = mapped_column()
    voucher_community_id: Mapped[int | None] = mapped_column(sa.ForeignKey("communities.id"))
    household_id: Mapped[int | None] = mapped_column()
    points: Mapped[int] = mapped_column()
    point_value_fen: Mapped[int | None] = mapped_column()
    value_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    synced_by_id: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[str | None] = mapped_column(sa.String(48))
    #: accepted: the redemption it became
    redemption_id: Mapped[int | None] = mapped_column(BigId)
    #: accepted: the redemption's transaction; double spend: the offline_overdraft
    transaction_id: Mapped[int | None] = mapped_column(BigId)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled_by_id: Mapped[int | None] = mapped_column()
    settle_note: Mapped[str | None] = mapped_column(sa.String(500))
