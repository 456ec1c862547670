"""Settlement statements and their lines, and the published notice boards.

* One statement per (community, shop, period): ``draft → confirmed → paid``. Its totals are
  summed by the database (``INSERT … SELECT … GROUP BY``) straight from the redemptions.
* Its redemption lines are not stored: they are the redemptions of its community and shop
  with ``created_at`` in ``[starts_at, ends_at)`` not reversed at ``built_at`` (each at the fen
  value fixed when it happened), read on demand (:mod:`pointsbank.reports.settlement`).
* ``settlement_lines`` holds the adjustments (``kind='adjustment'``): a redemption that was
  reversed after the confirmed statement paying it was built, carried with the opposite sign
  into the shop's next statement, at most once (unique key), so it is never taken back twice.
* A notice board is the frozen JSON of a period's publication: ranking, champion, totals per
  category and grid, records open to objection, and for a year its best families.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import BigId, UTCDateTime, tenant_community_id, tenant_id, utcnow
from pointsbank.extensions import db
from pointsbank.tenancy import tenant_key

STATEMENT_STATUSES = ("draft", "confirmed", "paid")
LINE_KINDS = ("redemption", "adjustment")


class SettlementStatement(db.Model):
    __tablename__ = "settlement_statements"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "shop_id", "period"),
        sa.CheckConstraint(sa.text("status IN ('draft','confirmed','paid')"), name="status"),
        sa.CheckConstraint("count >= 0 AND adjustment_count >= 0", name="counts_nonnegative"),
        sa.Index("ix_settlement_statements_community_id_period", "community_id", "period"),
        sa.Index("ix_settlement_statements_shop_id_id", "shop_id", "id"),
        tenant_key("transaction_id", "ledger_transactions"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    shop_id: Mapped[int] = mapped_column(sa.ForeignKey("shops.id"))
    period: Mapped[str] = mapped_column(sa.String(6))
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")
    #: redemptions of the period on the statement
    count: Mapped[int] = mapped_column(default=0)
    #: net points and fen owed: redemptions plus (negative) adjustments
    points: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    adjustment_count: Mapped[int] = mapped_column(default=0)
    adjustment_points: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    adjustment_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: when its redemptions were summed; a redemption reversed later is still on it
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the quarter ``[starts_at, ends_at)`` as UTC instants (midnights in the community's time zone);
    #: always set, nullable only so that SQLite could add them without rebuilding the table
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by_id: Mapped[int | None] = mapped_column()
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_by_id: Mapped[int | None] = mapped_column()
    #: the ledger transaction shop → settled (none when nothing net was owed)
    transaction_id: Mapped[int | None] = mapped_column(BigId)


class SettlementLine(db.Model):
    __tablename__ = "settlement_lines"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "redemption_id", "kind"),
        sa.CheckConstraint(sa.text("kind IN ('redemption','adjustment')"), name="kind"),
        sa.Index("ix_settlement_lines_statement_id_id", "statement_id", "id"),
        tenant_key("statement_id", "settlement_statements"),
        tenant_key("redemption_id", "redemptions"),
        tenant_key("origin_statement_id", "settlement_statements"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    statement_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(sa.String(16))
    redemption_id: Mapped[int] = mapped_column(BigId)
    #: when the redemption (or, for an adjustment, its reversal) happened
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    points: Mapped[int] = mapped_column(sa.BigInteger)
    point_value_fen: Mapped[int] = mapped_column()
    value_fen: Mapped[int] = mapped_column(sa.BigInteger)
    #: an adjustment's origin: the confirmed statement that paid the redemption
    origin_statement_id: Mapped[int | None] = mapped_column(BigId)


class NoticeBoard(db.Model):
    __tablename__ = "notice_boards"
    __table_args__ = (sa.UniqueConstraint("community_id", "period"),)

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    period: Mapped[str] = mapped_column(sa.String(6))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
