"""Shops and their partnerships with communities.

A shop is registered by one community (``community_id``, its home) and may partner with
others (``shop_partnerships``); a cashier may redeem only vouchers of a partner community.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import BigId, UTCDateTime, tenant_community_id, tenant_id, utcnow
from pointsbank.extensions import db
from pointsbank.tenancy import tenant_key


class Shop(db.Model):
    __tablename__ = "shops"
    __table_args__ = (sa.UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    address: Mapped[str | None] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShopPartnership(db.Model):
    __tablename__ = "shop_partnerships"

    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigningKey(db.Model):
    """A community's Ed25519 voucher-signing key. The newest unretired key signs; retired keys
    still verify the tokens they signed until those expire. The private key is stored
    encrypted with a key derived from the app secret."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id"), index=True)
    kid: Mapped[str] = mapped_column(sa.String(32), unique=True)
    public_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    private_key_encrypted: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


VOUCHER_STATUSES = ("issued", "redeemed", "cancelled", "expired")


class Voucher(db.Model):
    """Points held in the community's ``vouchers`` escrow account until redeemed, cancelled or expired."""

    __tablename__ = "vouchers"
    __table_args__ = (
        sa.CheckConstraint(sa.text("status IN ('issued','redeemed','cancelled','expired')"), name="status"),
        sa.CheckConstraint("points > 0", name="points_positive"),
        sa.Index("ix_vouchers_community_id_status_expires_at", "community_id", "status", "expires_at"),
        tenant_key("household_id", "households"),
        tenant_key("issue_transaction_id", "ledger_transactions"),
        tenant_key("closing_transaction_id", "ledger_transactions"),
        sa.UniqueConstraint("community_id", "short_code"),
    )

    #: unguessable: 128 random bits, hex
    id: Mapped[str] = tenant_id(sa.String(32))
    community_id: Mapped[int] = tenant_community_id()
    household_id: Mapped[int] = mapped_column(index=True)
    points: Mapped[int] = mapped_column()
    short_code: Mapped[str] = mapped_column(sa.String(16))
    kid: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), default="issued")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column()
    issue_transaction_id: Mapped[int] = mapped_column(BigId)
    closing_transaction_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: set on the receipt voucher of a card payment (``pointsbank.cards.payments``): never issued,
    #: never in the escrow, redeemed the moment it was written; the household card that paid
    #: (no foreign key: SQLite adds and drops the column in place)
    card_id: Mapped[int | None] = mapped_column()


class Redemption(db.Model):
    """One per voucher (unique): the points rung up, their value in fen at that moment, who and where."""

    __tablename__ = "redemptions"
    __table_args__ = (
        sa.CheckConstraint("points > 0", name="points_positive"),
        sa.CheckConstraint("returned_points >= 0", name="returned_nonnegative"),
        sa.Index("ix_redemptions_shop_id_id", "shop_id", "id"),
        # settlement sums a community's quarter from this index alone (an index-only scan: the
        # redemptions of one community are spread over every page of the table)
        sa.Index("ix_redemptions_community_id_created_at", "community_id", "created_at",
                 postgresql_include=["shop_id", "points", "value_fen", "reversed_at"]),
        # the few reversed redemptions a settlement looks for to carry as adjustments
        sa.Index("ix_redemptions_community_id_reversed_at", "community_id", "reversed_at",
                 postgresql_where=sa.text("reversed_at IS NOT NULL"), sqlite_where=sa.text("reversed_at IS NOT NULL")),
        tenant_key("voucher_id", "vouchers"),
        tenant_key("transaction_id", "ledger_transactions"),
        tenant_key("reversal_transaction_id", "ledger_transactions"),
        sa.UniqueConstraint("community_id", "voucher_id"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    voucher_id: Mapped[str] = mapped_column()
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id"))
    cashier_id: Mapped[int] = mapped_column()
    points: Mapped[int] = mapped_column()
    returned_points: Mapped[int] = mapped_column(default=0)
    point_value_fen: Mapped[int] = mapped_column()
    value_fen: Mapped[int] = mapped_column(sa.BigInteger)
    transaction_id: Mapped[int] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: a correction after the fact: the redemption's ledger transaction reversed
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reversal_transaction_id: Mapped[int | None] = mapped_column(BigId)
