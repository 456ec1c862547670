"""Stored results of the town-and-county features.

* ``household_stars``: a household's stars for a year (星级文明户), recomputed with every board of
  that year (a quarter's board gives the year so far, the year's board the final figure); one row
  per (community, household, year).
* ``spot_checks`` and ``spot_check_items``: a random sample of a period's posted records, drawn
  with a stored seed (the same seed over the same records draws the same sample), each item
  confirmed or disputed by a second staff member; a dispute opens an objection.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import BigId, UTCDateTime, utcnow
from pointsbank.extensions import db

SPOT_CHECK_ITEM_STATUSES = ("open", "confirmed", "disputed")


class HouseholdStars(db.Model):
    __tablename__ = "household_stars"
    __table_args__ = (sa.UniqueConstraint("community_id", "household_id", "year"),
                      sa.CheckConstraint("stars >= 0", name="stars_nonnegative"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id"))
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id"), index=True)
    year: Mapped[str] = mapped_column(sa.String(4))
    #: the points the household earned in the year (counted records, deductions negative)
    points: Mapped[int] = mapped_column(sa.BigInteger)
    stars: Mapped[int] = mapped_column()
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SpotCheck(db.Model):
    __tablename__ = "spot_checks"
    __table_args__ = (sa.CheckConstraint("size > 0", name="size_positive"),
                      sa.Index("ix_spot_checks_community_id_period", "community_id", "period"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id"))
    period: Mapped[str] = mapped_column(sa.String(6))
    size: Mapped[int] = mapped_column()
    seed: Mapped[int] = mapped_column(sa.BigInteger)
    drawn_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SpotCheckItem(db.Model):
    __tablename__ = "spot_check_items"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "spot_check_id", "record_id"),
        sa.CheckConstraint(sa.text("status IN ('open','confirmed','disputed')"), name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    community_id: Mapped[int] = mapped_column(sa.ForeignKey("communities.id"))
    spot_check_id: Mapped[int] = mapped_column(sa.ForeignKey("spot_checks.id"), index=True)
    record_id: Mapped[int] = mapped_column(sa.ForeignKey("behaviour_records.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    checked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    objection_id: Mapped[int | None] = mapped_column(sa.ForeignKey("objections.id"))
