"""Jobs of the redeem package, for the scheduler and the command line.

``expire_vouchers()`` returns the points of every voucher whose time ran out
(``vouchers −n, household +n``, status ``expired``). It is safe at any time, twice, and from
two processes at once: each batch takes only ``issued`` vouchers past their expiry and locks
them with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so two runs never pick the same voucher
and a voucher being redeemed or cancelled right now is simply left to that request; a
voucher already closed is never touched again. Each batch is one unit of work.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.database import lock_due, unit_of_work
from pointsbank.extensions import db
from pointsbank.ledger.models import Account
from pointsbank.redeem.models import Voucher
from pointsbank.redeem.services import close_voucher
from pointsbank.redeem.vouchers import return_points

__all__ = ["expire_vouchers", "expire_batch"]


def expire_batch(now: datetime, batch: int = 500) -> int:
    """Close up to ``batch`` expired vouchers in the current unit of work; how many it closed."""
    vouchers = lock_due(Voucher, Voucher.status == "issued", Voucher.expires_at <= now,
                        order_by=(Voucher.expires_at, Voucher.id), limit=batch)
    # household rows are locked until the batch commits: take them in account order, as every
    # other writer does, so that two runs (or a run and a redemption) never wait on each other in a circle
    accounts = {}
    for community_id in sorted({v.community_id for v in vouchers}):
        accounts.update(db.session.execute(sa.select(Account.household_id, Account.id).where(
            Account.community_id == community_id,
            Account.household_id.in_({v.household_id for v in vouchers if v.community_id == community_id})
        )).tuples().all())
    for voucher in sorted(vouchers, key=lambda v: (accounts.get(v.household_id, 0), v.id)):
        posted = return_points(voucher, kind="expiry", actor_id=None)
        close_voucher(voucher, status="expired", transaction_id=posted.transaction_id, closed_at=posted.created_at)
    db.session.flush()
    return len(vouchers)


def expire_vouchers(now: datetime | None = None, batch: int = 500) -> int:
    """Expire every voucher past its time, ``batch`` per commit; the number expired."""
    moment = now or clock.now()
    total = 0
    while True:
        done = unit_of_work(expire_batch)(moment, batch)
        total += done
        if done < batch:
            return total
