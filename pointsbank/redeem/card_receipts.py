"""The redemption rows of a card payment, so that a card payment is paid like a voucher's.

A household card (:mod:`pointsbank.cards`) spends straight from the household's redeemable
points: ONE ledger ``card_payment`` (household −points, shop +points, the household's floor at
the community's base), no escrow. Settlement sums ``redemptions``, and a redemption names its
voucher, so the payment writes a *receipt voucher* beside it — ``card_id`` set, written
``redeemed`` at the moment it is created, its issue and closing transaction the payment itself,
never in the escrow — and the redemption row (``returned_points`` 0)::

    card payment of 30:   household −30, shop +30      vouchers: one redeemed row (card_id 7)
                                                       redemptions: one row, 30 points, value in fen

A receipt voucher is never listed among the household's vouchers, and reversing its
redemption returns no face value from the escrow (it never held any).
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from typing import Any, Mapping

import sqlalchemy as sa

from pointsbank.database import execute
from pointsbank.ledger import services as ledger
from pointsbank.redeem.models import Voucher
from pointsbank.redeem.redemptions import _redemption_insert
from pointsbank.redeem.vouchers import _fresh_short_code

#: the ledger kind of a payment with a household card
KIND = "card_payment"


@dataclass(frozen=True)
class CardPaid:
    posted: ledger.Posted
    redemption_id: int
    values: dict[str, Any]


def record_card_payment(*, community_id: int, household_id: int, card_id: int, kid: str, shop_id: int,
                        cashier_id: int, points: int, point_value_fen: int, base_points: int, shop_account: int,
                        household_account: int, locked: Mapping[int, Any] | None) -> CardPaid:
    """Post the payment and write its receipt voucher and redemption row. The caller holds the
    card's row lock and the accounts' (``locked``: the ``ledger.lock`` handle, if taken) and has
    checked the card, the PIN, the partnership and the freeze. ``insufficient_points`` (422) when
    the household's redeemable points (above the base) do not cover ``points``."""
    voucher_id = secrets.token_hex(16)
    posted = ledger.post(community_id, KIND, [(household_account, -points), (shop_account, points)],
                         actor_id=cashier_id, reference=("voucher", voucher_id),
                         minimums={household_account: base_points}, locked=locked)
    execute(_voucher_insert(), {
        "id": voucher_id, "community_id": community_id, "household_id": household_id, "points": points,
        "short_code": _fresh_short_code(community_id), "kid": kid, "status": "redeemed",
        "expires_at": posted.created_at,
        "created_by_id": cashier_id, "issue_transaction_id": posted.transaction_id,
        "closing_transaction_id": posted.transaction_id, "created_at": posted.created_at,
        "closed_at": posted.created_at, "card_id": card_id})
    values = {"community_id": community_id, "voucher_id": voucher_id, "shop_id": shop_id, "cashier_id": cashier_id,
              "points": points, "returned_points": 0, "point_value_fen": point_value_fen,
              "value_fen": points * point_value_fen, "transaction_id": posted.transaction_id,
              "created_at": posted.created_at, "reversed_at": None}
    redemption_id = execute(_redemption_insert(), values).scalar_one()
    return CardPaid(posted=posted, redemption_id=redemption_id, values=values)


@functools.lru_cache(maxsize=1)
def _voucher_insert() -> sa.Insert:
    return sa.insert(Voucher.__table__)
