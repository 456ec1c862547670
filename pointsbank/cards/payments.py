"""Paying at the counter with a household card and its PIN: no voucher, no smartphone.

``pay(cashier, card="PBC1.…", pin="042917", points=30)`` (or ``items``: a shelf basket) spends
straight from the household's redeemable points in ONE ledger ``card_payment`` (household −30,
shop +30) and writes the redemption row settlement pays (:mod:`pointsbank.redeem.card_receipts`).

Order of checks, each refusal moving no point:

1. the shop's PIN throttle (429 ``too_many_attempts`` after ``CARD_PIN_FAILURES_PER_SHOP`` wrong
   PINs at the shop within ``CARD_PIN_WINDOW_MINUTES``);
2. the credential's shape (400 ``card_malformed``) and signature against the community key it
   names (422 ``card_forged``); the shop must partner with the card's community, otherwise the
   answer is the unknown-card answer (404 ``card_not_found``), as for vouchers;
3. the card row, locked (``FOR UPDATE``): unknown or not what was signed 404; revoked 410
   ``card_revoked``; blocked 423 ``card_blocked`` — even with the right PIN;
4. the PIN: wrong → the counter goes up by one under the lock, 401 ``wrong_pin`` with
   ``attempts_left``; the fifth wrong in a row blocks the card (423 ``card_blocked``). A right
   PIN sets the counter back to zero;
5. the accounts' lock, then the freeze (422 ``household_frozen``), the basket, the points.

Because the counter is read and written under the card's row lock, twenty wrong PINs at once
block the card exactly at the fifth. Every attempt is audited (``card.pin``, with its outcome:
``ok``, ``wrong_pin``, ``blocked``, ``revoked``, ``throttled`` or the refusal's code). Every
refusal keeps its audit row, counter and throttle record (``keeps_changes``): those of step 5 are
raised before anything is written (the ledger checks the floor before it writes), so no point moves.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy, throttle
from pointsbank.auth.models import User
from pointsbank.cards import tokens
from pointsbank.cards.errors import CardBlocked, CardOrCode, CardForged, CardMalformed, CardNotFound, CardRevoked, WrongPin
from pointsbank.cards.models import MAX_WRONG_PINS, HouseholdCard
from pointsbank.community import freeze
from pointsbank.community.models import Community
from pointsbank.database import dialect_name, execute, lock_for_update, row_by_id
from pointsbank.errors import DomainError, NotFound
from pointsbank.notify import services as notify
from pointsbank.redeem import card_receipts, keys, redemptions
from pointsbank.redeem.services import PointsNotPositive, ShopInactive, receipt_view
from pointsbank.shelf import redemption as basket_redemption

PIN_SCOPE_SHOP = "card_pin:shop"


def _keep(error: Exception) -> Exception:
    error.keeps_changes = True  # type: ignore[attr-defined]
    return error


def _attempt(actor: User, card: Any, shop_id: int, outcome: str, **data: Any) -> None:
    audit.record(actor, "card.pin", community_id=card.community_id, target_type="household_card",
                 target_id=card.id, data={"household_id": card.household_id, "shop_id": shop_id,
                                          "outcome": outcome, **data})


def verified(token: str) -> tokens.CardClaims:
    """The claims of a credential whose signature verifies against the key of the community it names."""
    try:
        kid, _ = tokens.peek(token)
        known = keys.public_key(kid)
        if known is None:
            raise CardForged()
        claims = tokens.verify(token, {kid: known[1]})
    except tokens.MalformedCard:
        raise CardMalformed() from None
    except tokens.ForgedCard:
        raise CardForged() from None
    if claims.community_id != known[0]:
        raise CardForged()
    return claims


def _shop_for(actor: User, community_id: int) -> Any:
    shop = execute(redemptions.shop_and_partner(), {"shop_id": actor.shop_id, "community_id": community_id}).first()
    if shop is None:
        raise NotFound()
    if not shop.is_active:
        raise ShopInactive()
    if not shop.is_partner:
        raise CardNotFound()
    return shop


@functools.lru_cache(maxsize=2)
def _card_lock(dialect: str) -> sa.Select:
    """The card row locked until the unit of work ends, with its community's point value, base and
    time zone (built once)."""
    cards, communities = HouseholdCard.__table__, Community.__table__
    stmt = (sa.select(*cards.c, communities.c.point_value_fen, communities.c.base_points, communities.c.timezone)
            .join(communities, communities.c.id == cards.c.community_id)
            .where(cards.c.id == sa.bindparam("card_id"), cards.c.community_id == sa.bindparam("community_id")))
    return lock_for_update(stmt, dialect, of=cards)


@functools.lru_cache(maxsize=1)
def _counter_update() -> sa.Update:
    cards = HouseholdCard.__table__
    return (sa.update(cards).where(cards.c.id == sa.bindparam("card_id"))
            .values(wrong_pins=sa.bindparam("wrong_pins"), blocked_at=sa.bindparam("blocked_at")))


def _check_throttle(shop_id: int) -> None:
    cfg = current_app.config
    throttle.check(PIN_SCOPE_SHOP, str(shop_id), int(cfg["CARD_PIN_FAILURES_PER_SHOP"]),
                   int(cfg["CARD_PIN_WINDOW_MINUTES"]) * 60)


def locked_card(actor: User, card: str, pin: str) -> tuple[Any, Any]:
    """(the cashier's shop, the card row locked) once the PIN was right; steps 1–4 above."""
    policy.require_role(actor, "cashier")
    try:
        _check_throttle(actor.shop_id)
    except Exception as error:
        audit.record(actor, "card.pin", data={"shop_id": actor.shop_id, "outcome": "throttled"})
        raise _keep(error)
    try:
        claims = verified(card.strip() if isinstance(card, str) else card)
        shop = _shop_for(actor, claims.community_id)
        row = execute(_card_lock(dialect_name()),
                      {"card_id": claims.card_id, "community_id": claims.community_id}).first()
        if row is None or row.household_id != claims.household_id:
            raise CardNotFound()
    except DomainError as error:  # no card to name: the attempt is audited with the shop and the refusal
        audit.record(actor, "card.pin", data={"shop_id": actor.shop_id, "outcome": error.code})
        raise _keep(error)
    if row.revoked_at is not None:
        _attempt(actor, row, shop.id, "revoked")
        raise _keep(CardRevoked())
    if row.blocked_at is not None:
        _attempt(actor, row, shop.id, "blocked")
        raise _keep(CardBlocked(details={"attempts_left": 0}))
    if not isinstance(pin, str) or not check_password_hash(row.pin_hash, pin):
        wrong = row.wrong_pins + 1
        blocked_at = clock.now() if wrong >= MAX_WRONG_PINS else None
        execute(_counter_update(), {"card_id": row.id, "wrong_pins": wrong, "blocked_at": blocked_at})
        throttle.hit(PIN_SCOPE_SHOP, str(shop.id))
        _attempt(actor, row, shop.id, "wrong_pin", wrong_pins=wrong, blocked=blocked_at is not None)
        if blocked_at is not None:
            notify.card_blocked(row.community_id, row.household_id, row.id)  # told in the block's transaction
            raise _keep(CardBlocked(details={"attempts_left": 0}))
        left = MAX_WRONG_PINS - wrong
        raise _keep(WrongPin(attempts_left=left, details={"attempts_left": left}))
    if row.wrong_pins:
        execute(_counter_update(), {"card_id": row.id, "wrong_pins": 0, "blocked_at": None})
    _attempt(actor, row, shop.id, "ok")
    return shop, row


def inspect(actor: User, *, card: str) -> dict[str, Any]:
    """What the scan page checks before it shows the PIN pad: the credential, the partnership, the
    card's state and the household's freeze (the refusals of steps 2–3 and 5). Reads only: no PIN,
    so nothing is counted or audited; the payment checks all of it again under the lock."""
    policy.require_role(actor, "cashier")
    claims = verified(card.strip() if isinstance(card, str) else card)
    _shop_for(actor, claims.community_id)
    row = row_by_id(HouseholdCard, claims.card_id, claims.community_id)
    if row is None or row.community_id != claims.community_id or row.household_id != claims.household_id:
        raise CardNotFound()
    if row.revoked_at is not None:
        raise CardRevoked()
    if row.blocked_at is not None:
        raise CardBlocked(details={"attempts_left": 0})
    freeze.ensure_not_frozen(row.community_id, row.household_id)
    return {"card_id": row.id, "attempts_left": MAX_WRONG_PINS - row.wrong_pins}


def check(actor: User, *, card: str, pin: str) -> dict[str, Any]:
    """The PIN pad's step: the card and PIN checked (counted, audited), the household not frozen;
    answers what the cashier needs next, never the household's balance."""
    shop, row = locked_card(actor, card, pin)
    freeze.ensure_not_frozen(row.community_id, row.household_id)
    return {"card_id": row.id, "shop_id": shop.id, "shop_name": shop.name, "community_id": row.community_id}


def pay(actor: User, *, card: str, pin: str, points: int | None = None,
        items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Spend ``points`` (or a shelf basket) of the card's household at the cashier's shop."""
    policy.require_role(actor, "cashier")
    basket_redemption.check_points_or_items(points, items)
    if items is None and points < 1:
        raise PointsNotPositive()
    shop, row = locked_card(actor, card, pin)
    community_id, household_id = row.community_id, row.household_id
    try:
        shop_account, household_account, locked = redemptions.lock_accounts(community_id, shop.id, household_id)
        freeze.ensure_not_frozen(community_id, household_id)  # after the account lock: see community.freeze
        basket = None
        if items is not None:
            holder = SimpleNamespace(household_id=household_id, community_id=community_id, timezone=row.timezone)
            basket = basket_redemption.price_for_voucher(holder, shop.id, items, clock.now(), locked)
            points = basket.points
        paid = card_receipts.record_card_payment(
            community_id=community_id, household_id=household_id, card_id=row.id, kid=row.kid, shop_id=shop.id,
            cashier_id=actor.id, points=points, point_value_fen=row.point_value_fen, base_points=row.base_points,
            shop_account=shop_account, household_account=household_account, locked=locked)
    except DomainError as error:
        # frozen, a basket refused, not enough points: each refuses before anything is written, so
        # the PIN attempt (its audit row, the count set back to zero) stands and no point moves
        raise _keep(error)
    lines = None
    if basket is not None:
        basket_redemption.record(basket, community_id=community_id, created_at=paid.posted.created_at,
                                 actor_id=actor.id, redemption_id=paid.redemption_id)
        lines = basket.view()
    audit.record(actor, "card.pay", community_id=community_id, target_type="redemption",
                 target_id=paid.redemption_id,
                 data={"card_id": row.id, "household_id": household_id, "shop_id": shop.id, "points": points,
                       "value_fen": paid.values["value_fen"], **({"items": lines} if lines else {})})
    receipt = receipt_view(SimpleNamespace(id=paid.redemption_id, **paid.values), shop.name)
    receipt["card_id"] = row.id
    if lines is not None:
        receipt["lines"] = lines
    return receipt


def redeem_code_or_card(actor: User, *, code: str | None = None, card: str | None = None, pin: str | None = None,
                        points: int | None = None, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``POST /redemptions``: a voucher ``code``, or a ``card`` with its ``pin`` (400 ``card_or_code``
    for neither or both)."""
    if (code is None) == (card is None) or (card is not None and pin is None):
        raise CardOrCode()
    if card is not None:
        return pay(actor, card=card, pin=pin, points=points, items=items)
    return redemptions.redeem(actor, code=code, points=points, items=items)
