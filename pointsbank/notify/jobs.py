"""Jobs of the notifications, for the scheduler (every ``NOTIFY_EVERY_SECONDS``) and the CLI.

``enqueue_expiring(now)`` finds issued vouchers and held reservations that expire within
``NOTIFY_EXPIRY_WINDOW_HOURS`` and have not been told yet, and enqueues one message per item
(the key ``voucher_expiring:<id>`` / ``reservation_expiring:<id>`` is unique per community, so a
second scan — or a second scheduler — writes nothing). ``run(now)`` is the scheduler's pass:
that scan, then :func:`pointsbank.notify.sender.send_due`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from pointsbank import clock
from pointsbank.database import unit_of_work
from pointsbank.extensions import db
from pointsbank.notify import sender
from pointsbank.notify.models import Notification
from pointsbank.notify.services import Event, enqueue
from pointsbank.redeem import shortcode
from pointsbank.redeem.models import Voucher
from pointsbank.shelf.models import Reservation

#: items read per scan statement
BATCH = 1000


def _not_told(prefix: str, community_id: Any, item_id: Any) -> Any:
    key = sa.literal(prefix) + sa.cast(item_id, sa.String) + sa.literal(":inbox")
    return ~sa.exists().where(Notification.community_id == community_id, Notification.idempotency_key == key)


def enqueue_expiring(now: datetime | None = None) -> dict[str, int]:
    """Tell each household once about its vouchers and reservations about to expire."""
    moment = now or clock.now()
    until = moment + timedelta(hours=float(current_app.config["NOTIFY_EXPIRY_WINDOW_HOURS"]))
    events: dict[int, list[Event]] = defaultdict(list)
    vouchers = db.session.execute(
        sa.select(Voucher.id, Voucher.community_id, Voucher.household_id, Voucher.points, Voucher.expires_at)
        .where(Voucher.status == "issued", Voucher.expires_at > moment, Voucher.expires_at <= until,
               _not_told("voucher_expiring:", Voucher.community_id, Voucher.id))
        .order_by(Voucher.expires_at).limit(BATCH)).all()
    for v in vouchers:
        events[v.community_id].append(Event(v.household_id, "voucher_expiring", f"voucher_expiring:{v.id}",
                                            {"points": v.points, "expires_at": v.expires_at}))
    reservations = db.session.execute(
        sa.select(Reservation.id, Reservation.community_id, Reservation.household_id, Reservation.points,
                  Reservation.pickup_code, Reservation.expires_at)
        .where(Reservation.status == "held", Reservation.expires_at > moment, Reservation.expires_at <= until,
               _not_told("reservation_expiring:", Reservation.community_id, Reservation.id))
        .order_by(Reservation.expires_at).limit(BATCH)).all()
    for r in reservations:
        events[r.community_id].append(Event(r.household_id, "reservation_expiring", f"reservation_expiring:{r.id}",
                                            {"points": r.points, "code": shortcode.format(r.pickup_code),
                                             "expires_at": r.expires_at}))
    for community_id, found in events.items():
        enqueue(community_id, found, moment)
    return {"vouchers": len(vouchers), "reservations": len(reservations)}


def run(now: datetime | None = None) -> dict[str, Any]:
    """The scheduler's pass: the expiry scan (one unit of work), then the sender."""
    moment = now or clock.now()
    found = unit_of_work(enqueue_expiring)(moment)
    return {"expiring": found, "sms": sender.send_due(moment)}
