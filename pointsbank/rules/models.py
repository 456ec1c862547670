"""Rule-book versions, behaviour records, their approvals, objections and evidence files.

A record moves ``pending → posted → (objected → upheld | reversed)`` or ``pending → rejected``.
It keeps the rule-book version it was scored under and the engine's decision (points and
reasons) for good: a record capped to 0 points is still kept, so the record of good deeds is
whole. ``month_key``/``quarter_key``/``year_key`` are the periods of ``occurred_on`` in the
community's calendar, so caps and notice boards are indexed lookups, not date arithmetic.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import BigId, UTCDateTime, tenant_community_id, tenant_id, utcnow
from pointsbank.extensions import db
from pointsbank.tenancy import tenant_key

RECORD_STATUSES = ("pending", "posted", "rejected", "objected", "upheld", "reversed")


class RuleBookVersion(db.Model):
    __tablename__ = "rulebook_versions"
    __table_args__ = (sa.UniqueConstraint("community_id", "version"),
                      sa.Index("ix_rulebook_versions_community_id_effective_from", "community_id", "effective_from"))

    id: Mapped[int] = tenant_id(sa.Integer())
    community_id: Mapped[int] = tenant_community_id()
    version: Mapped[str] = mapped_column(sa.String(32))
    effective_from: Mapped[date] = mapped_column(sa.Date)
    source: Mapped[str] = mapped_column(sa.Text)
    published_by_id: Mapped[int | None] = mapped_column()
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Evidence(db.Model):
    """A photo or document stored by the app; served only to those who may see its record."""

    __tablename__ = "evidence_files"
    __table_args__ = (
        tenant_key("household_id", "households"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id(index=True)
    household_id: Mapped[int | None] = mapped_column()
    filename: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(sa.String(64))
    storage_path: Mapped[str] = mapped_column(sa.String(500))
    uploaded_by_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BehaviourRecord(db.Model):
    __tablename__ = "behaviour_records"
    __table_args__ = (
        sa.CheckConstraint(sa.text("status IN ('pending','posted','rejected','objected','upheld','reversed')"),
                           name="status"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("approvals_required BETWEEN 0 AND 2", name="approvals_required_range"),
        sa.UniqueConstraint("community_id", "import_key"),
        sa.Index("ix_behaviour_records_usage", "community_id", "household_id", "rule_code", "year_key"),
        sa.Index("ix_behaviour_records_community_id_status", "community_id", "status"),
        # the boards and the region dashboard sum a community's quarter from this index alone; the
        # household in the key gives the dashboard its households per quarter already in order
        sa.Index("ix_behaviour_records_community_id_quarter_key", "community_id", "quarter_key", "household_id",
                 postgresql_include=["status", "points"]),
        tenant_key("household_id", "households"),
        tenant_key("resident_id", "residents"),
        tenant_key("rulebook_version_id", "rulebook_versions"),
        tenant_key("evidence_id", "evidence_files"),
        tenant_key("transaction_id", "ledger_transactions"),
        tenant_key("reversal_transaction_id", "ledger_transactions"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    household_id: Mapped[int] = mapped_column(index=True)
    resident_id: Mapped[int | None] = mapped_column()
    rulebook_version_id: Mapped[int] = mapped_column()
    rule_code: Mapped[str] = mapped_column(sa.String(64))
    category: Mapped[str] = mapped_column(sa.String(64))
    occurred_on: Mapped[date] = mapped_column(sa.Date)
    month_key: Mapped[str] = mapped_column(sa.String(7))
    quarter_key: Mapped[str] = mapped_column(sa.String(6))
    year_key: Mapped[str] = mapped_column(sa.String(4))
    quantity: Mapped[int] = mapped_column(default=1)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    evidence_id: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(sa.String(16))
    #: what the record scores (after caps); 0 when capped away or rejected before posting
    points: Mapped[int] = mapped_column()
    requested_points: Mapped[int] = mapped_column()
    approvals_required: Mapped[int] = mapped_column(default=0)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    is_claim: Mapped[bool] = mapped_column(default=False)
    group_key: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    import_key: Mapped[str | None] = mapped_column(sa.String(128))
    recorded_by_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transaction_id: Mapped[int | None] = mapped_column(BigId)
    reversal_transaction_id: Mapped[int | None] = mapped_column(BigId)


class RecordApproval(db.Model):
    __tablename__ = "record_approvals"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "record_id", "approver_id"),
        tenant_key("record_id", "behaviour_records"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    record_id: Mapped[int] = mapped_column(BigId, index=True)
    approver_id: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Objection(db.Model):
    __tablename__ = "objections"
    __table_args__ = (
        sa.CheckConstraint(sa.text("status IN ('open','upheld','reversed')"), name="status"),
        tenant_key("record_id", "behaviour_records"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id(index=True)
    record_id: Mapped[int] = mapped_column(BigId, index=True)
    raised_by_id: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(sa.String(1000))
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    resolved_by_id: Mapped[int | None] = mapped_column()
    resolution_note: Mapped[str | None] = mapped_column(sa.String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
