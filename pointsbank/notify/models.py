"""The outbox: one row per message to one household on one channel.

Invariants:

* a row is written in the same transaction as the event it tells of (a record posted, an
  adjustment, a reversal, a card blocked, a voucher or reservation about to expire): an event
  rolled back leaves no message, a committed one leaves its messages;
* ``(community_id, idempotency_key)`` is unique: enqueueing the same event twice (the expiry
  scan every five minutes) writes one row; the key also goes in every SMS payload, so a gateway
  dedupes a message re-sent after a crash between send and mark (at-least-once);
* an ``inbox`` row is delivered when written (status ``sent``); an ``sms`` row is ``pending`` until
  the sender marks it ``sent``, or ``failed`` after ``NOTIFY_MAX_ATTEMPTS``; ``read`` once the
  resident opened it.

Example: an award of 5 points posted for household 7 writes ``(inbox, points_awarded,
{"points": 5, "deadline": "2026-05-22"}, sent)`` and, when the household has a phone and has not
opted out, ``(sms, points_awarded, …, pending, recipient_phone=13812345678)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pointsbank.database import UTCDateTime, tenant_community_id, tenant_id, utcnow
from pointsbank.extensions import db
from pointsbank.tenancy import tenant_key

CHANNELS = ("inbox", "sms")
STATUSES = ("pending", "sent", "failed", "read")


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "idempotency_key"),
        sa.CheckConstraint(sa.text("channel IN ('inbox','sms')"), name="channel"),
        sa.CheckConstraint(sa.text("status IN ('pending','sent','failed','read')"), name="status"),
        sa.CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        sa.CheckConstraint(sa.text("channel <> 'sms' OR recipient_phone IS NOT NULL"), name="sms_has_phone"),
        # the sender's claim: due SMS, oldest first
        sa.Index("ix_notifications_due", "status", "next_attempt_at"),
        # the inbox: a household's messages, newest first
        sa.Index("ix_notifications_inbox", "household_id", "channel", "id"),
        tenant_key("household_id", "households"),
    )

    id: Mapped[int] = tenant_id()
    community_id: Mapped[int] = tenant_community_id()
    household_id: Mapped[int] = mapped_column()
    recipient_user_id: Mapped[int | None] = mapped_column()
    recipient_phone: Mapped[str | None] = mapped_column(sa.String(20))
    channel: Mapped[str] = mapped_column(sa.String(8))
    template: Mapped[str] = mapped_column(sa.String(40))
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(8))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(255))
    idempotency_key: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
