"""Stored results of the town-and-county features.

* ``household_stars``: a household's stars for a year (星级文明户), recomputed with every board of
  that year (a quarter's board gives the year so far, the year's board the final figure); one row
  per (community, household, year);
* ``spot_checks`` and ``spot_check_items``: random samples of a period's posted records and
  each one's second look (confirmed, or disputed through the objection path).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import BigId, UTCDateTime, tenant_community_id, tenant_id, utcnow
from pointsbank.extensions import db
from pointsbank.tenancy import tenant_key


class HouseholdStars(db.Model):
    __tablename__ = "household_stars"
    __table_args__ = (sa.UniqueConstraint("community_id", "household_id", "year"),
                      sa.CheckConstraint("stars >= 0", name="stars_nonnegative"),
                      tenant_key("household_id", "households"))

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    household_id: Mapped[int] = mapped_column(index=True)
    year: Mapped[str] = mapped_column(sa.String(4))
    #: the points the household earned in the year (counted records, deductions negative)
    points: Mapped[int] = mapped_column(sa.BigInteger)
    stars: Mapped[int] = mapped_column()
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SpotCheck(db.Model):
    """A random sample of a period's posted records drawn for a second look (fair scoring).

    The sample is a pure function of the stored ``seed`` and the period's posted records in id
    order (:func:`pointsbank.regions.spotchecks.draw`), so the same seed draws the same sample."""

    __tablename__ = "spot_checks"
    __table_args__ = (sa.Index("ix_spot_checks_community_id_period", "community_id", "period"),
                      sa.CheckConstraint("size >= 1", name="size_positive"))

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    period: Mapped[str] = mapped_column(sa.String(6))
    size: Mapped[int] = mapped_column()
    seed: Mapped[int] = mapped_column(sa.BigInteger)
    drawn_by_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


#: an item of a spot check: waiting, confirmed by a second staff member, or disputed (an objection opened)
SPOT_CHECK_STATUSES = ("pending", "confirmed", "disputed")


class SpotCheckItem(db.Model):
    __tablename__ = "spot_check_items"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "spot_check_id", "record_id"),
        sa.Index("ix_spot_check_items_community_id_record_id", "community_id", "record_id"),
        sa.CheckConstraint(sa.text("status IN ('pending','confirmed','disputed')"), name="status"),
        tenant_key("spot_check_id", "spot_checks"),
        tenant_key("record_id", "behaviour_records"),
        tenant_key("objection_id", "objections"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    spot_check_id: Mapped[int] = mapped_column(BigId)
    record_id: Mapped[int] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    checked_by_id: Mapped[int | None] = mapped_column()
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(sa.String(1000))
    objection_id: Mapped[int | None] = mapped_column(BigId)
