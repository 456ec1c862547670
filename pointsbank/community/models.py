"""Regions, communities (the tenant), grids, households and residents.

A community is the unit of isolation: every table that holds community data carries
``community_id`` and every unique key includes it (household numbers are unique *within* a
community). Regions (county, town, …) form a tree recorded as a materialised ``path``
(``/1/4/``) so that "everything under this town" is one indexed prefix match.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from pointsbank.database import UTCDateTime, tenant_community_id, tenant_id, utcnow
from pointsbank.extensions import db
from pointsbank.tenancy import tenant_key

REGION_KINDS = ("province", "city", "county", "town")


class Region(db.Model):
    __tablename__ = "regions"
    __table_args__ = (sa.CheckConstraint(sa.text("kind IN ('province','city','county','town')"), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    path: Mapped[str] = mapped_column(sa.String(255), index=True, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Community(db.Model):
    __tablename__ = "communities"
    __table_args__ = (
        sa.CheckConstraint("base_points >= 0", name="base_points_nonnegative"),
        sa.CheckConstraint("point_value_fen >= 0", name="point_value_nonnegative"),
        sa.CheckConstraint("voucher_ttl_hours > 0", name="voucher_ttl_positive"),
        sa.CheckConstraint("notice_days >= 0", name="notice_days_nonnegative"),
        sa.CheckConstraint("adjustment_two_person_above >= 0", name="adjustment_threshold_nonnegative"),
        sa.CheckConstraint(sa.text("points_reset IN ('none','quarter','year','expire')"), name="points_reset"),
        sa.CheckConstraint("points_expire_years IS NULL OR points_expire_years >= 1", name="expire_years_positive"),
        sa.CheckConstraint("best_families_count >= 1", name="best_families_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("regions.id"), index=True)
    base_points: Mapped[int] = mapped_column(default=100)
    point_value_fen: Mapped[int] = mapped_column(default=100)
    voucher_ttl_hours: Mapped[int] = mapped_column(default=24)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Asia/Shanghai")
    notice_days: Mapped[int] = mapped_column(default=7)
    adjustment_two_person_above: Mapped[int] = mapped_column(default=50)
    is_notice_public: Mapped[bool] = mapped_column(default=True)
    #: none | quarter | year (balances back to the base at each boundary) | expire (points
    #: older than ``points_expire_years`` years lapse at each year end) — see pointsbank.reports.resets
    points_reset: Mapped[str] = mapped_column(sa.String(16), default="none", server_default="none")
    points_expire_years: Mapped[int | None] = mapped_column()
    #: when the reset/expiry choice last changed: only boundaries after it are applied
    points_policy_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    best_families_count: Mapped[int] = mapped_column(default=10, server_default="10")
    #: star-rated households: ``[{"stars": 1, "min_points": 50}, …]`` (see pointsbank.regions.stars)
    star_levels: Mapped[list[dict[str, int]] | None] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    region: Mapped[Region | None] = relationship(lazy="joined")

    @validates("points_reset", "points_expire_years")
    def _stamp_policy_change(self, key: str, value: object) -> object:
        if getattr(self, key) != value:
            self.points_policy_since = utcnow()
        return value


class Grid(db.Model):
    """A grid (网格): the patch of households one grid worker looks after."""

    __tablename__ = "grids"
    __table_args__ = (sa.UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = tenant_id(sa.Integer())
    community_id: Mapped[int] = tenant_community_id(index=True)
    name: Mapped[str] = mapped_column(sa.String(100))


FREEZE_REASONS = ("moved_away", "deceased", "under_review")


class Household(db.Model):
    __tablename__ = "households"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "number"),
        sa.CheckConstraint(sa.text("frozen_reason IS NULL OR frozen_reason IN ('moved_away','deceased','under_review')"),
                           name="frozen_reason"),
        tenant_key("grid_id", "grids"),
    )

    id: Mapped[int] = tenant_id(sa.Integer())
    community_id: Mapped[int] = tenant_community_id(index=True)
    number: Mapped[str] = mapped_column(sa.String(32))
    head_name: Mapped[str] = mapped_column(sa.String(100))
    address: Mapped[str | None] = mapped_column(sa.String(255))
    grid_id: Mapped[int | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: frozen (moved away, deceased, under review): nothing moves until unfreeze — see community.freeze
    frozen_reason: Mapped[str | None] = mapped_column(sa.String(16))
    frozen_note: Mapped[str | None] = mapped_column(sa.String(255))
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: digits only (checked by the schemas); shown masked everywhere (``pointsbank.notify.phones.masked``)
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    #: no SMS for this household (its inbox still fills): set by staff or by the resident on /home
    sms_opt_out: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    community: Mapped[Community] = relationship(lazy="joined", innerjoin=True)
    # joined on the community too (the key is (grid_id, community_id)); only grid_id is written
    # through it, community_id belongs to the household
    grid: Mapped[Grid | None] = relationship(
        lazy="joined",
        primaryjoin="and_(Grid.id == foreign(Household.grid_id), Grid.community_id == Household.community_id)")
    residents: Mapped[list["Resident"]] = relationship(
        back_populates="household", order_by="Resident.id", lazy="selectin",
        primaryjoin="and_(Household.id == foreign(Resident.household_id), "
                    "Household.community_id == Resident.community_id)")


class Resident(db.Model):
    __tablename__ = "residents"
    __table_args__ = (
        tenant_key("household_id", "households"),
    )

    id: Mapped[int] = tenant_id(sa.Integer())
    community_id: Mapped[int] = tenant_community_id(index=True)
    household_id: Mapped[int] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    household: Mapped[Household] = relationship(
        back_populates="residents",
        primaryjoin="and_(Household.id == foreign(Resident.household_id), "
                    "Household.community_id == Resident.community_id)")


class HouseholdProxy(db.Model):
    """A login allowed to see and spend for a household it does not belong to (代办人): a
    relative's resident login of another household, or a grid worker. Ending a grant stamps
    ``revoked_at`` (the row stays for the record); at most one open grant per login and household."""

    __tablename__ = "household_proxies"
    __table_args__ = (
        sa.Index("ix_household_proxies_community_id_user_id", "community_id", "user_id"),
        sa.Index("uq_household_proxies_open", "community_id", "household_id", "user_id", unique=True,
                 sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL")),
        tenant_key("household_id", "households"),
    )

    id: Mapped[int] = tenant_id(sa.Integer())
    community_id: Mapped[int] = tenant_community_id()
    household_id: Mapped[int] = mapped_column()
    user_id: Mapped[int] = mapped_column()
    granted_by_id: Mapped[int | None] = mapped_column()
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column()
