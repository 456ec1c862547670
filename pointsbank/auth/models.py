"""Logins, their role and scope, API tokens, and the throttle of failed attempts.

Each user has exactly one role; the columns that scope it are checked by the database:
``admin`` may carry a ``region_id`` (none = every region), ``staff``/``grid_worker`` a
``community_id``, ``resident`` a ``household_id`` (and its community), ``cashier`` a
``shop_id``. Staff may also carry a ``household_id``: the household they belong to, for which
they may not award, adjust or approve (conflict of interest).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import BigId, UTCDateTime, tenant_community_id, utcnow
from pointsbank.extensions import db
from pointsbank.tenancy import tenant_key

ROLES = ("admin", "staff", "grid_worker", "resident", "cashier")
STAFF_ROLES = ("staff", "grid_worker")


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(sa.text("role IN ('admin','staff','grid_worker','resident','cashier')"), name="role"),
        sa.CheckConstraint(
            sa.text("(role NOT IN ('staff','grid_worker','resident')) OR community_id IS NOT NULL"),
            name="community_roles_have_community"),
        sa.CheckConstraint(sa.text("role <> 'resident' OR household_id IS NOT NULL"), name="resident_has_household"),
        sa.CheckConstraint(sa.text("role <> 'cashier' OR shop_id IS NOT NULL"), name="cashier_has_shop"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    display_name: Mapped[str | None] = mapped_column(sa.String(100))
    role: Mapped[str] = mapped_column(sa.String(16))
    region_id: Mapped[int | None] = mapped_column(sa.ForeignKey("regions.id"))
    community_id: Mapped[int | None] = mapped_column(sa.ForeignKey("communities.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(index=True)
    shop_id: Mapped[int | None] = mapped_column(sa.ForeignKey("shops.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class UserGrid(db.Model):
    """The grids a grid worker looks after."""

    __tablename__ = "user_grids"
    __table_args__ = (
        tenant_key("grid_id", "grids"),
    )

    user_id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = tenant_community_id(index=True)


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ThrottleEvent(db.Model):
    """One failed attempt (a login, a short-code guess) under a scope and key, for throttling."""

    __tablename__ = "throttle_events"
    __table_args__ = (sa.Index("ix_throttle_events_scope_key_at", "scope", "key", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(32))
    key: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
