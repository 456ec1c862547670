"""What the redeem package's use cases share: their named refusals, the voucher state rules
and the receipt.

A voucher is ``issued`` until exactly one of: ``redeemed`` (a partner shop rang it up),
``cancelled`` (its household or staff took it back) or ``expired`` (its time ran out and the
points went home). An ``issued`` voucher whose ``expires_at`` has passed is already expired
for everyone who asks, even before the expiry job has returned its points::

    >>> effective_status(voucher, now)      # issued, expires_at <= now
    'expired'

Refusals carry stable codes. An expired voucher answers **410 Gone** (``voucher_expired``):
the code is well-formed and was real, but it will never be valid again; a second redemption
or a cancelled voucher answers 409.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from pointsbank import clock
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.database import execute, lock_row, row_by_id
from pointsbank.errors import BadRequest, Conflict, DomainError, Forbidden, NotFound, Unprocessable
from pointsbank.extensions import db
from pointsbank.redeem.models import Redemption, Shop, Voucher

VOUCHER_ID = re.compile(r"^[0-9a-f]{32}$")


# --- refusals ------------------------------------------------------------------------------

class VoucherNotFound(NotFound):
    code = "voucher_not_found"
    message = _l("No voucher matches this code.")


class VoucherCodeMalformed(BadRequest):
    code = "voucher_code_malformed"
    message = _l("This is not a voucher code: scan the QR code again or type the 16 digits under it.")


class VoucherForged(Unprocessable):
    code = "voucher_forged"
    message = _l("This voucher's signature is not valid: it was altered or not issued by the community.")


class VoucherAlreadyRedeemed(Conflict):
    code = "voucher_already_redeemed"
    message = _l("This voucher was already redeemed.")


class VoucherCancelled(Conflict):
    code = "voucher_cancelled"
    message = _l("This voucher was cancelled; its points went back to the household.")


class VoucherExpired(DomainError):
    status, code = 410, "voucher_expired"
    message = _l("This voucher has expired; its points go back to the household.")


class PointsExceedVoucher(Unprocessable):
    code = "points_exceed_voucher"
    message = _l("The voucher is worth %(voucher_points)s points; %(points)s is more than that.")


class PointsNotPositive(BadRequest):
    code = "points_not_positive"
    message = _l("Points must be 1 or more.")


class HouseholdRequired(BadRequest):
    code = "household_required"
    message = _l("Say which household the voucher is for (household_id).")


class ShopInactive(Forbidden):
    code = "shop_inactive"
    message = _l("This shop no longer redeems vouchers.")


class ShopNameTaken(Conflict):
    code = "shop_name_taken"
    message = _l("A shop named %(name)s already exists in this community.")


class ShopAlreadyPartner(Conflict):
    code = "shop_already_partner"
    message = _l("This shop already partners with that community.")


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"
    message = _l("No such redemption.")


class RedemptionAlreadyReversed(Conflict):
    code = "redemption_already_reversed"
    message = _l("This redemption has already been reversed.")


# --- vouchers ------------------------------------------------------------------------------

def effective_status(voucher: Voucher, now: datetime | None = None) -> str:
    if voucher.status == "issued" and voucher.expires_at <= (now or clock.now()):
        return "expired"
    return voucher.status


def voucher_for(actor: User, voucher_id: str, *roles: str) -> Voucher:
    """The voucher if ``actor`` may see its household (residents: their own; staff: their
    community; a proxy: the household it helps); 404 ``voucher_not_found`` otherwise, whether
    or not it exists."""
    policy.require_role(actor, *roles)
    voucher = row_by_id(Voucher, voucher_id) if VOUCHER_ID.match(voucher_id or "") else None
    if voucher is None:
        raise VoucherNotFound()
    try:
        policy.household_for(actor, voucher.household_id, *roles, proxy=True)
        policy.ensure_may_spend(actor, voucher.household_id, voucher.community_id)
    except NotFound:
        raise VoucherNotFound() from None
    return voucher


def lock_voucher(voucher_id: str, community_id: int) -> Voucher:
    """The voucher row, locked until the unit of work ends (``FOR UPDATE`` on PostgreSQL) and
    re-read, so its status is the committed one and nobody else can change it meanwhile."""
    voucher = lock_row(Voucher, voucher_id, community_id)
    if voucher is None:
        raise VoucherNotFound()
    return voucher


#: the states a voucher closes into, each exactly once (``issued`` is the only open one)
CLOSED_STATUSES = ("redeemed", "cancelled", "expired")


def close_voucher(voucher: Any, *, status: str, transaction_id: int, closed_at: datetime) -> None:
    """The one way a voucher closes — redeemed (:func:`pointsbank.redeem.redemptions.redeem_voucher`,
    online or by an offline sync), cancelled or expired (its points went home): its status, the
    ledger transaction that closed it and when. A voucher loaded by the ORM (a cancel, the expiry
    job) is changed in the session and written at the flush; a voucher read as a row under its
    lock (a redemption, a sync) is closed by one ``UPDATE``. The caller holds the voucher's lock."""
    if status not in CLOSED_STATUSES:
        raise ValueError(f"a voucher does not close as {status!r}")
    if isinstance(voucher, Voucher):
        voucher.status, voucher.closing_transaction_id, voucher.closed_at = status, transaction_id, closed_at
        return
    execute(_voucher_close(), {"voucher_id": voucher.id, "voucher_community_id": voucher.community_id, "status": status,
                               "transaction_id": transaction_id, "closed_at": closed_at})


@functools.lru_cache(maxsize=1)
def _voucher_close() -> sa.Update:
    vouchers = Voucher.__table__
    return sa.update(vouchers).where(vouchers.c.community_id == sa.bindparam("voucher_community_id"),
                                     vouchers.c.id == sa.bindparam("voucher_id")).values(
        status=sa.bindparam("status"), closing_transaction_id=sa.bindparam("transaction_id"),
        closed_at=sa.bindparam("closed_at", type_=vouchers.c.closed_at.type))


def ensure_redeemable(voucher: Voucher, *, now: datetime, shop_id: int | None = None) -> None:
    """Refuse a voucher that is not open: redeemed (409; the shop's name only to that same
    shop), cancelled (409) or expired (410)."""
    status = effective_status(voucher, now)
    if status == "redeemed":
        redemption = db.session.scalar(sa.select(Redemption).where(Redemption.community_id == voucher.community_id,
                                                                   Redemption.voucher_id == voucher.id))
        redeemed_at = redemption.created_at if redemption is not None else voucher.closed_at
        details: dict[str, Any] = {"redeemed_at": redeemed_at.isoformat() if redeemed_at else None}
        if redemption is not None and shop_id is not None and redemption.shop_id == shop_id:
            shop = db.session.get(Shop, shop_id)
            details["shop_name"] = shop.name if shop else None
        raise VoucherAlreadyRedeemed(details=details)
    if status == "cancelled":
        raise VoucherCancelled()
    if status == "expired":
        raise VoucherExpired(details={"expired_at": voucher.expires_at.isoformat()})


# --- receipts ------------------------------------------------------------------------------

def receipt_view(redemption: Redemption, shop_name: str | None = None) -> dict[str, Any]:
    """What the cashier hands over, and what staff and the household see later. Never a
    household's balance."""
    if shop_name is None:
        shop = db.session.get(Shop, redemption.shop_id)
        shop_name = shop.name if shop else None
    return {
        "id": redemption.id, "voucher_id": redemption.voucher_id, "community_id": redemption.community_id,
        "points": redemption.points, "returned_points": redemption.returned_points,
        "value_fen": redemption.value_fen, "point_value_fen": redemption.point_value_fen,
        "shop_id": redemption.shop_id, "shop_name": shop_name, "cashier_id": redemption.cashier_id,
        "created_at": redemption.created_at, "reversed_at": redemption.reversed_at,
    }
