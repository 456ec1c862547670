"""Reservations (预约) for the redemption day: points held in escrow, stock held on the shelf.

``create_reservation(resident, shop_id=3, items=[{"item_id": 7, "quantity": 1}])`` checks the
basket as the counter would (:func:`pointsbank.shelf.services.baskets.price`), then in one
transaction posts ``household −60, vouchers +60`` (the household may spend only its
redeemable points), moves the stock out (``reservation`` movements) and answers::

    {"id": 12, "pickup_code": "4821 0937 5512 0086", "points": 60, "status": "held",
     "expires_at": "…", "lines": [{"item_id": 7, "quantity": 1, "points": 60, …}]}

**Escrow account: the community's ``vouchers`` system account.** A reservation is a voucher
for named goods: points that have left the household but not yet reached a shop. Using the
existing escrow keeps one meaning for it (``vouchers`` = points promised to the counter and not
yet handed over), needs no new account kind (no change to the ledger's schema, to
``ledger verify`` or to the settlement), and the escrow is not a locked, chained account, so
reservations never serialise on it. The reservation's ``hold_transaction_id`` and
``closing_transaction_id`` say which of the escrow's postings are its own.

Then exactly one of:

* ``collect_reservation(cashier, code=…)`` at the reservation's shop: ``vouchers −60, shop +60``,
  a redemption (no voucher) with the reservation's lines — the shop settles it like any other;
* ``cancel_reservation`` (the household or staff) or ``expire_reservations`` (the scheduler):
  ``vouchers −60, household +60`` and ``release`` movements put the goods back.

Each of them locks the reservation row first (``FOR UPDATE``; the expiry job ``SKIP LOCKED``)
and acts only on a ``held`` reservation, so points and stock return exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping

from pointsbank.auth.models import User


def create_reservation(actor: User, *, shop_id: int, items: Iterable[Mapping[str, Any]],
                       household_id: int | None = None) -> dict[str, Any]:
    """Reserve a basket for a household (a resident: their own; staff: one of their community,
    not their own). Answers ``{id, pickup_code, points, expires_at, lines, status}``. Refusals
    as at the counter (``item_unavailable``, ``stars_required``, ``household_limit_reached``
    422, ``out_of_stock`` 409) and ``insufficient_points`` 422."""
    raise NotImplementedError


def collect_reservation(actor: User, *, code: str) -> dict[str, Any]:
    """Hand a reservation over at the counter (a cashier of its shop): the receipt with its lines.
    Refusals: ``pickup_code_malformed`` 400, ``reservation_not_found`` 404, ``reservation_closed``
    409 (collected or cancelled), ``reservation_expired`` 410, throttled guesses 429."""
    raise NotImplementedError


def cancel_reservation(actor: User, reservation_id: int) -> dict[str, Any]:
    """Cancel a held reservation (its household, or staff of its community): points and stock go
    back. ``reservation_closed`` 409 once collected, cancelled or expired."""
    raise NotImplementedError


def get_reservation(actor: User, reservation_id: int) -> dict[str, Any]:
    """One reservation with its lines, for its household, staff of its community and the shop's cashiers."""
    raise NotImplementedError


def list_reservations(actor: User, *, household_id: int | None = None, shop_id: int | None = None,
                      status: str | None = None) -> list[dict[str, Any]]:
    """Reservations, newest first: a resident's own; staff those of their community (optionally
    one household or shop); a cashier those of its shop (to pack them)."""
    raise NotImplementedError


def expire_reservations(now: datetime | None = None, batch: int = 200) -> int:
    """Return the points and the stock of every held reservation past its time (the scheduler;
    safe twice and from two processes at once). How many expired."""
    raise NotImplementedError
