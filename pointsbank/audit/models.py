"""Audit rows are append-only: the service only inserts, and on PostgreSQL a trigger refuses
UPDATE and DELETE (migration 0001)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import BigId, UTCDateTime, utcnow
from pointsbank.extensions import db


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_community_id_created_at", "community_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    community_id: Mapped[int | None] = mapped_column(sa.ForeignKey("communities.id"))
    target_type: Mapped[str | None] = mapped_column(sa.String(32))
    target_id: Mapped[str | None] = mapped_column(sa.String(64))
    address: Mapped[str | None] = mapped_column(sa.String(64))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
