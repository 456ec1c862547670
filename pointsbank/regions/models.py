"""Stored results of the town-and-county features.

* ``household_stars``: a household's stars for a year (星级文明户), recomputed with every board of
  that year (a quarter's board gives the year so far, the year's board the final figure); one row
  per (community, household, year).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import BigId, UTCDateTime, utcnow
from pointsbank.extensions import db


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
