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
  and the reservation becomes a redeemed voucher (issued by the hold, closed by the pickup) with
  a redemption and the reservation's lines — receipts, corrections and the settlement treat it
  like any other;
* ``cancel_reservation`` (the household or staff) or ``expire_reservations`` (the scheduler):
  ``vouchers −60, household +60`` and ``release`` movements put the goods back.

Each of them locks the reservation row first (``FOR UPDATE``; the expiry job ``SKIP LOCKED``)
and acts only on a ``held`` reservation, so points and stock return exactly once. Reading
reservations (who sees which, their lines, the pickup code's QR) is
:mod:`pointsbank.shelf.services.reservation_reads`.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

import sqlalchemy as sa
from flask import current_app

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy, throttle
from pointsbank.auth.models import User
from pointsbank.community import freeze
from pointsbank.community.models import Community
from pointsbank.database import dialect_name, execute, lock_due, lock_row, unit_of_work
from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.ledger.models import Account
from pointsbank.redeem import keys, shops, shortcode
from pointsbank.redeem.models import Redemption, Shop, ShopPartnership, Voucher
from pointsbank.redeem.services import HouseholdRequired, ShopInactive, receipt_view
from pointsbank.shelf.models import RedemptionLine, Reservation, ReservationLine, ShelfItem
from pointsbank.shelf.refusals import PickupCodeMalformed, ReservationNotFound
from pointsbank.shelf.services import baskets
from pointsbank.shelf.services.reservation_reads import (ensure_held, reservation_for, reservation_lines,
                                                         reservation_view)
from pointsbank.shelf.services.stock import items_lock, shelf_community, write_movements

GUESS_SCOPE_CASHIER = "pickup:cashier"
GUESS_SCOPE_SHOP = "pickup:shop"


def _fresh_pickup_code(community_id: int) -> str:
    for _ in range(5):
        code = shortcode.generate()
        if db.session.scalar(sa.select(Reservation.id).where(Reservation.community_id == community_id,
                                                              Reservation.pickup_code == code)) is None:
            return code
    raise RuntimeError("could not draw an unused pickup code")


# --- reserve -------------------------------------------------------------------------------

def create_reservation(actor: User, *, shop_id: int, items: Iterable[Mapping[str, Any]],
                       household_id: int | None = None) -> dict[str, Any]:
    """Reserve a basket for a household (a resident: their own; staff: one of their community,
    not their own). Answers ``{id, pickup_code, points, expires_at, lines, status}``. Refusals
    as at the counter (``item_unavailable``, ``stars_required``, ``household_limit_reached``
    422, ``out_of_stock`` 409) and ``insufficient_points`` 422."""
    policy.require_role(actor, "resident", "staff")
    if actor.role == "resident" and household_id is None:
        household_id = actor.household_id
    if household_id is None:
        raise HouseholdRequired()
    household = policy.household_ref(actor, household_id, "resident", "staff", proxy=True)
    if actor.role == "staff":
        policy.ensure_not_own_household(actor, household.id)
    shop = db.session.get(Shop, shop_id)
    if shop is None or db.session.get(ShopPartnership, (household.community_id, shop.id)) is None:
        raise NotFound()
    if not shop.is_active:
        raise ShopInactive()
    now = clock.now()
    account = ledger.lock_household_accounts(household.community_id, [household.id]).get(household.id)
    if account is None:
        raise NotFound()
    freeze.ensure_not_frozen(household.community_id, household.id)  # households: nothing is reserved for a frozen one
    basket = baskets.price(household=household, shop_id=shop.id, items=items, now=now)
    escrow = ledger.system_accounts(household.community_id)["vouchers"]
    posted = ledger.post(household.community_id, "reservation_hold", [(account.id, -basket.points),
                                                                      (escrow, basket.points)],
                         actor_id=actor.id, reference=("shop", shop.id),
                         minimums={account.id: household.base_points}, locked={account.id: account})
    hours = int(current_app.config["RESERVATION_TTL_HOURS"])
    reservation = Reservation(community_id=household.community_id, shop_id=shop.id, household_id=household.id,
                              pickup_code=_fresh_pickup_code(household.community_id), points=basket.points,
                              status="held", expires_at=(posted.created_at + timedelta(hours=hours)).replace(
                                  microsecond=0), created_by_id=actor.id, hold_transaction_id=posted.transaction_id,
                              created_at=posted.created_at)
    db.session.add(reservation)
    db.session.flush()
    baskets.record(basket, community_id=household.community_id, created_at=posted.created_at, actor_id=actor.id,
                   reservation_id=reservation.id, reason="reservation")
    audit.record(actor, "reservation.create", community_id=household.community_id, target_type="reservation",
                 target_id=reservation.id, data={"household_id": household.id, "shop_id": shop.id,
                                                 "points": basket.points, "items": basket.view()})
    return reservation_view(reservation, basket.view(), show_code=True, shop_name=shop.name)


# --- collect -------------------------------------------------------------------------------

def _by_pickup_code(shop_id: int, digits: str) -> Reservation | None:
    """The held-or-not reservation of this shop with this pickup code, locked. A pickup code is
    unique within its household's community; found among the shop's reservations (every partner
    community's: on Citus an unlocked read of several shards), then locked on its own shard. A code
    two communities both drew for the shop (one in 10^15 per pair) is not guessed between."""
    found = db.session.execute(sa.select(Reservation.id, Reservation.community_id).where(
        Reservation.shop_id == shop_id, Reservation.pickup_code == digits).limit(2)).all()
    return lock_row(Reservation, found[0].id, found[0].community_id) if len(found) == 1 else None


def _check_guesses(actor: User, shop_id: int) -> None:
    cfg = current_app.config
    window = int(cfg["REDEEM_GUESS_WINDOW_MINUTES"]) * 60
    throttle.check(GUESS_SCOPE_CASHIER, str(actor.id), int(cfg["REDEEM_GUESSES_PER_CASHIER"]), window)
    throttle.check(GUESS_SCOPE_SHOP, str(shop_id), int(cfg["REDEEM_GUESSES_PER_SHOP"]), window)


def _failed_guess(actor: User, shop_id: int, error: Exception) -> Exception:
    throttle.hit(GUESS_SCOPE_CASHIER, str(actor.id))
    throttle.hit(GUESS_SCOPE_SHOP, str(shop_id))
    error.keeps_changes = True  # type: ignore[attr-defined]
    return error


def collect_reservation(actor: User, *, code: str) -> dict[str, Any]:
    """Hand a reservation over at the counter (a cashier of its shop): the receipt with its lines.
    Refusals: ``pickup_code_malformed`` 400, ``reservation_not_found`` 404, ``reservation_closed``
    409 (collected or cancelled), ``reservation_expired`` 410, throttled guesses 429. A malformed
    or unknown code counts as a guess, like a voucher's short code."""
    policy.require_role(actor, "cashier")
    shop = shops.cashier_shop(actor)
    if not shop.is_active:
        raise ShopInactive()
    _check_guesses(actor, shop.id)
    digits = shortcode.normalize(code) if isinstance(code, str) else ""
    if not shortcode.is_valid(digits):
        raise _failed_guess(actor, shop.id, PickupCodeMalformed())
    reservation = _by_pickup_code(shop.id, digits)
    if reservation is None:
        raise _failed_guess(actor, shop.id, ReservationNotFound())
    now = clock.now()
    ensure_held(reservation, now)
    # households: a frozen one's basket is not handed over
    freeze.ensure_not_frozen(reservation.community_id, reservation.household_id)
    community = db.session.get(Community, reservation.community_id)
    escrow = ledger.system_accounts(reservation.community_id)["vouchers"]
    shop_account = ledger.shop_account(reservation.community_id, shop.id)
    posted = ledger.post(reservation.community_id, "reservation_pickup",
                         [(escrow, -reservation.points), (shop_account, reservation.points)],
                         actor_id=actor.id, reference=("reservation", reservation.id))
    voucher_id = _closing_voucher(reservation, posted)
    redemption = Redemption(community_id=reservation.community_id, voucher_id=voucher_id, shop_id=shop.id,
                            cashier_id=actor.id, points=reservation.points, returned_points=0,
                            point_value_fen=community.point_value_fen,
                            value_fen=reservation.points * community.point_value_fen,
                            transaction_id=posted.transaction_id, created_at=posted.created_at)
    db.session.add(redemption)
    db.session.flush()
    lines = reservation_lines([reservation.id])[reservation.id]
    execute(sa.insert(RedemptionLine.__table__), [
        {"community_id": reservation.community_id, "redemption_id": redemption.id, "item_id": line["item_id"],
         "household_id": reservation.household_id, "quantity": line["quantity"], "points_each": line["points_each"],
         "points": line["points"], "created_at": posted.created_at} for line in lines])
    reservation.status, reservation.closed_at = "collected", posted.created_at
    reservation.closing_transaction_id, reservation.redemption_id = posted.transaction_id, redemption.id
    audit.record(actor, "reservation.collect", community_id=reservation.community_id, target_type="reservation",
                 target_id=reservation.id, data={"redemption_id": redemption.id, "shop_id": shop.id,
                                                 "points": reservation.points})
    db.session.flush()
    return {**receipt_view(redemption, shop.name), "lines": lines, "reservation_id": reservation.id}


def _closing_voucher(reservation: Reservation, posted: ledger.Posted) -> str:
    """The voucher a collected reservation turns into, written already redeemed: issued by the
    reservation's hold (``household → vouchers``), closed by its pickup (``vouchers → shop``). Every
    redemption has its voucher, so receipts, the household's voucher list, corrections
    (``POST /redemptions/{id}/reverse`` gives the points back through it) and the settlement treat
    a collected reservation like any redemption. It never existed as an open voucher: no token
    was shown and no sweep can expire it."""
    voucher_id = secrets.token_hex(16)
    code = shortcode.generate()
    while db.session.scalar(sa.select(Voucher.id).where(Voucher.short_code == code)) is not None:
        code = shortcode.generate()
    db.session.add(Voucher(id=voucher_id, community_id=reservation.community_id, household_id=reservation.household_id,
                           points=reservation.points, short_code=code,
                           kid=keys.active_key(reservation.community_id).kid, status="redeemed",
                           expires_at=reservation.expires_at, created_by_id=reservation.created_by_id,
                           issue_transaction_id=reservation.hold_transaction_id,
                           closing_transaction_id=posted.transaction_id, created_at=reservation.created_at,
                           closed_at=posted.created_at))
    db.session.flush()
    return voucher_id


# --- give back: cancel and expiry ----------------------------------------------------------

def _give_back(reservations: list[Reservation], *, status: str, actor_id: int | None, now: datetime) -> None:
    """Return the points (``vouchers → household``, households in account order) and the stock
    (``release`` movements, items in (shop, id) order) of locked, held reservations."""
    if not reservations:
        return
    accounts = dict(db.session.execute(sa.select(Account.household_id, Account.id).where(
        Account.household_id.in_({r.household_id for r in reservations}))).tuples().all())
    kind = "reservation_return" if status == "cancelled" else "expiry"
    for reservation in sorted(reservations, key=lambda r: (accounts[r.household_id], r.id)):
        escrow = ledger.system_accounts(reservation.community_id)["vouchers"]
        posted = ledger.post(reservation.community_id, kind,
                             [(escrow, -reservation.points), (accounts[reservation.household_id], reservation.points)],
                             actor_id=actor_id, reference=("reservation", reservation.id))
        reservation.status, reservation.closed_at = status, posted.created_at
        reservation.closing_transaction_id = posted.transaction_id
    lines = list(db.session.execute(sa.select(ReservationLine.reservation_id, ReservationLine.item_id,
                                              ReservationLine.quantity).where(
        ReservationLine.reservation_id.in_([r.id for r in reservations]))))
    shop_of = {r.id: r.shop_id for r in reservations}
    by_shop: dict[int, set[int]] = {}
    for line in lines:
        by_shop.setdefault(shop_of[line.reservation_id], set()).add(line.item_id)
    stock: dict[int, Any] = {}
    for shop_id in sorted(by_shop):
        for row in execute(items_lock(dialect_name()), {"ids": sorted(by_shop[shop_id]), "shop_id": shop_id,
                                                        "item_community_id": shelf_community(shop_id)}):
            stock[row.id] = None if row.stock is None else int(row.stock)
    movements = []
    for line in sorted(lines, key=lambda l: (l.item_id, l.reservation_id)):
        after = None
        if stock[line.item_id] is not None:
            stock[line.item_id] += line.quantity
            after = stock[line.item_id]
        movements.append({"community_id": None, "item_id": line.item_id, "change": line.quantity,
                          "reason": "release", "stock_after": after, "note": None, "actor_id": actor_id,
                          "redemption_id": None, "reservation_id": line.reservation_id, "created_at": now})
    communities = dict(db.session.execute(sa.select(ShelfItem.id, ShelfItem.community_id).where(
        ShelfItem.id.in_(stock))).tuples().all())
    for movement in movements:
        movement["community_id"] = communities[movement["item_id"]]
    # one item released by several reservations: its cached stock is the last movement's
    write_movements(movements)
    db.session.flush()


def cancel_reservation(actor: User, reservation_id: int) -> dict[str, Any]:
    """Cancel a held reservation (its household, or staff of its community): points and stock go
    back. ``reservation_closed`` 409 once collected or cancelled, ``reservation_expired`` 410."""
    policy.require_role(actor, "resident", "staff")
    seen = reservation_for(actor, reservation_id)
    reservation = lock_row(Reservation, reservation_id, seen.community_id)
    now = clock.now()
    ensure_held(reservation, now)
    _give_back([reservation], status="cancelled", actor_id=actor.id, now=now)
    audit.record(actor, "reservation.cancel", community_id=reservation.community_id, target_type="reservation",
                 target_id=reservation.id, data={"points": reservation.points})
    return reservation_view(reservation, reservation_lines([reservation.id])[reservation.id], show_code=True)


def expire_batch(now: datetime, batch: int = 200) -> int:
    """Expire up to ``batch`` held reservations past their time in the current unit of work.
    ``FOR UPDATE SKIP LOCKED``: a reservation being collected or cancelled right now is left to
    that request, and two runs never take the same one."""
    found = lock_due(Reservation, Reservation.status == "held", Reservation.expires_at <= now,
                     order_by=(Reservation.expires_at, Reservation.id), limit=batch)
    _give_back(found, status="expired", actor_id=None, now=now)
    return len(found)


def expire_reservations(now: datetime | None = None, batch: int = 200) -> int:
    """Return the points and the stock of every held reservation past its time (the scheduler;
    safe twice and from two processes at once), ``batch`` per commit. How many expired."""
    moment = now or clock.now()
    total = 0
    while True:
        done = unit_of_work(expire_batch)(moment, batch)
        total += done
        if done < batch:
            return total
