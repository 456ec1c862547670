"""Redemption: the moment a voucher becomes rice and cooking oil at a partner shop.

``redeem(cashier, code, points)`` takes what the QR carries (a signed token) or the typed
short code, and in ONE ledger transaction moves the points rung up from the escrow to the
shop and the rest of the face value back to the household::

    voucher of 50 points, 30 rung up:   vouchers −50, shop +30, household +20

Order of checks, each refusal moving nothing:

1. the code's shape: a token (``PB1.…``) or digits (spaces and dashes ignored); else 400
   ``voucher_code_malformed``;
2. a token's signature, against the community key it names, before the voucher is read
   (422 ``voucher_forged``); for a short code, the guess throttle per cashier and per shop
   (429), its check digit (400, and it counts as a guess), then the lookup — one lookup per
   shop at a time, so the throttle's count-then-record holds under any concurrency;
3. the shop must partner with the voucher's community: otherwise the answer is exactly the
   unknown-voucher answer (404 ``voucher_not_found``), so a stranger learns nothing;
4. the voucher row is locked (``FOR UPDATE``) and its state checked: redeemed 409, cancelled
   409, expired 410; more points than its face value 422.

The unique ``redemptions.voucher_id`` is the last line of defence behind the row lock.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Mapping

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import exc as sa_exc

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy, throttle
from pointsbank.auth.models import User
from pointsbank.community import freeze
from pointsbank.community.models import Community
from pointsbank.database import dialect_name, execute, is_postgresql, lock_for_update, row_by_id
from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.pagination import keyset_page
from pointsbank.redeem import keys, shops, shortcode, tokens
from pointsbank.redeem.models import Redemption, Shop, ShopPartnership, Voucher
from pointsbank.redeem.services import (PointsExceedVoucher, PointsNotPositive, RedemptionAlreadyReversed,
                                        RedemptionNotFound, ShopInactive, VoucherAlreadyRedeemed, VoucherCodeMalformed,
                                        VoucherForged, VoucherNotFound, close_voucher, ensure_redeemable,
                                        receipt_view)
from pointsbank.redeem.vouchers import return_points
from pointsbank.shelf import redemption as basket_redemption

GUESS_SCOPE_CASHIER = "shortcode:cashier"
GUESS_SCOPE_SHOP = "shortcode:shop"

#: first half of the advisory-lock key that serialises a shop's short-code lookups
_GUESS_LOCK_NAMESPACE = 0x7062_6763  # "pbgc"


def redeem(actor: User, *, code: str, points: int | None = None,
           items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``points`` typed at the till, or a basket of shelf ``items`` ([{item_id, quantity}]) whose
    points are their sum: the basket is priced, checked and taken by :mod:`pointsbank.shelf`
    inside this same transaction, after the accounts are locked (a partial basket is never taken)."""
    policy.require_role(actor, "cashier")
    basket_redemption.check_points_or_items(points, items)
    if items is None and points < 1:
        raise PointsNotPositive()
    shop, voucher_id, community_id, signed = _locate(actor, code)
    voucher = execute(_voucher_lock(dialect_name()), {"voucher_id": voucher_id, "community_id": community_id}).first()
    if voucher is None:
        raise VoucherNotFound()
    match_signed(voucher, signed)
    now = clock.now()
    ensure_redeemable(voucher, now=now, shop_id=shop.id)
    community_id = voucher.community_id
    shop_account, household_account, locked = _lock_accounts(community_id, shop.id, voucher.household_id)
    freeze.ensure_not_frozen(community_id, voucher.household_id)  # households: a frozen one's voucher is refused
    basket = None
    if items is not None:
        basket = basket_redemption.price_for_voucher(voucher, shop.id, items, now, locked)
        points = basket.points
    if points > voucher.points:
        raise PointsExceedVoucher(voucher_points=voucher.points, points=points,
                                  details={"voucher_points": voucher.points})

    taken = redeem_voucher(voucher, shop_id=shop.id, cashier_id=actor.id, points=points,
                           point_value_fen=voucher.point_value_fen, shop_account=shop_account,
                           household_account=household_account, locked=locked)
    redemption_id, values, returned = taken.redemption_id, taken.values, taken.values["returned_points"]
    posted = taken.posted
    lines = None
    if basket is not None:
        basket_redemption.record(basket, community_id=community_id, created_at=posted.created_at, actor_id=actor.id,
                                 redemption_id=redemption_id)
        lines = basket.view()
    audit.record(actor, "voucher.redeem", community_id=community_id, target_type="redemption",
                 target_id=redemption_id,
                 data={"voucher_id": voucher.id, "shop_id": shop.id, "points": points, "returned_points": returned,
                       "value_fen": values["value_fen"], **({"items": lines} if lines else {})})
    receipt = receipt_view(SimpleNamespace(id=redemption_id, **values), shop.name)
    if lines is not None:
        receipt["lines"] = lines
    return receipt


@functools.lru_cache(maxsize=2)
def _voucher_lock(dialect: str) -> sa.Select:
    """The voucher row locked until the unit of work ends (``FOR UPDATE`` on PostgreSQL; SQLite's
    write lock is held), read as committed, with its community's point value now and its time zone
    (a basket's household limits count by the community's calendar) (built once)."""
    vouchers, communities = Voucher.__table__, Community.__table__
    stmt = (sa.select(*vouchers.c, communities.c.point_value_fen, communities.c.timezone)
            .join(communities, communities.c.id == vouchers.c.community_id)
            .where(vouchers.c.id == sa.bindparam("voucher_id"),
                   vouchers.c.community_id == sa.bindparam("community_id")))
    return lock_for_update(stmt, dialect, of=vouchers)


@dataclass(frozen=True)
class Redeemed:
    """What :func:`redeem_voucher` wrote: the ledger transaction, the redemption's id and its row's values."""

    posted: ledger.Posted
    redemption_id: int
    values: dict[str, Any]


def redeem_voucher(voucher: Any, *, shop_id: int, cashier_id: int, points: int, point_value_fen: int,
                   shop_account: int, household_account: int, locked: Mapping[int, Any] | None = None,
                   counted_at: datetime | None = None, closed_at: datetime | None = None) -> Redeemed:
    """The one way a voucher is redeemed, online (:func:`redeem`) or synced from a phone
    (:mod:`pointsbank.offline.sync`): ONE ledger ``redemption`` (escrow −face, shop +points,
    household +the rest), the redemption's row (its receipt) and the voucher closed as redeemed
    (:func:`pointsbank.redeem.services.close_voucher`). The caller holds the voucher's lock and
    has checked it (open, partner shop, points within its face value). ``locked``: the
    accounts' lock handle (``ledger.lock``), if taken; ``counted_at``: when the settlement counts
    it (default: now); ``closed_at``: when the voucher closed (default: now)."""
    community_id = voucher.community_id
    returned = voucher.points - points
    escrow = ledger.system_accounts(community_id)["vouchers"]
    posted = ledger.post(community_id, "redemption",
                         [(escrow, -voucher.points), (shop_account, points), (household_account, returned)],
                         actor_id=cashier_id, reference=("voucher", voucher.id), locked=locked)
    values = {"community_id": community_id, "voucher_id": voucher.id, "shop_id": shop_id, "cashier_id": cashier_id,
              "points": points, "returned_points": returned, "point_value_fen": point_value_fen,
              "value_fen": points * point_value_fen, "transaction_id": posted.transaction_id,
              "created_at": counted_at or posted.created_at, "reversed_at": None}
    try:
        redemption_id = execute(_redemption_insert(), values).scalar_one()
    except sa_exc.IntegrityError as error:  # behind the row lock this cannot happen; if it does, refuse
        raise VoucherAlreadyRedeemed() from error
    close_voucher(voucher, status="redeemed", transaction_id=posted.transaction_id,
                  closed_at=closed_at or posted.created_at)
    return Redeemed(posted=posted, redemption_id=redemption_id, values=values)


@functools.lru_cache(maxsize=1)
def _redemption_insert() -> sa.Insert:
    redemptions = Redemption.__table__
    return sa.insert(redemptions).returning(redemptions.c.id)


def inspect_voucher(actor: User, *, code: str) -> dict[str, Any]:
    """What the cashier confirms before ringing a voucher up — its face value and expiry —
    after exactly the checks of :func:`redeem` (shape, signature, throttle, partnership, state):
    a code that ``redeem`` would refuse is refused here with the same error, and a failed
    short-code lookup counts as a guess. Reads only; never the household."""
    policy.require_role(actor, "cashier")
    shop, voucher_id, community_id, signed = _locate(actor, code)
    voucher = db.session.get(Voucher, (voucher_id, community_id))
    if voucher is None:
        raise VoucherNotFound()
    match_signed(voucher, signed)
    ensure_redeemable(voucher, now=clock.now(), shop_id=shop.id)
    # households: the confirm page says so, with the reason
    freeze.ensure_not_frozen(community_id, voucher.household_id)
    community = db.session.get(Community, voucher.community_id)
    return {"points": voucher.points, "expires_at": voucher.expires_at, "point_value_fen": community.point_value_fen,
            "value_fen": voucher.points * community.point_value_fen, "shop_id": shop.id, "shop_name": shop.name}


def get_receipt(actor: User, redemption_id: int) -> dict[str, Any]:
    """One receipt, for whoever may list its shop's redemptions (404 otherwise)."""
    redemption = row_by_id(Redemption, redemption_id)  # a cashier's shop may serve several communities
    if redemption is None:
        raise RedemptionNotFound()
    try:
        shop = shops.shop_for(actor, redemption.shop_id, "admin", "staff", "cashier")
        if actor.role in ("admin", "staff"):
            policy.community_for(actor, redemption.community_id, "admin", "staff")
    except NotFound:
        raise RedemptionNotFound() from None
    return basket_redemption.with_lines([receipt_view(redemption, shop.name)])[0]


def _locate(actor: User, code: str) -> tuple[Any, str, int, tuple[str, tokens.Claims] | None]:
    """(the cashier's shop, the voucher id, its community, (kid, claims) for a token) of a scanned
    or typed code."""
    code = code.strip() if isinstance(code, str) else ""
    is_token = tokens.looks_like_token(code)
    if not is_token and not shortcode.looks_like_short_code(code):
        raise VoucherCodeMalformed()
    if not is_token:
        _check_guesses(actor, actor.shop_id)  # over the limit: refused before anything else is read
        shop = shops.cashier_shop(actor)
        if not shop.is_active:
            raise ShopInactive()
        return shop, *_by_short_code(actor, shop.id, shortcode.normalize(code)), None
    # a token: its signature first (CPU only), then the shop and the partnership in one statement;
    # the answers keep their order (no shop 404, inactive shop, bad token, not a partner 404)
    refusal: Exception | None = None
    signed = None
    try:
        signed = verified(code)
    except (VoucherCodeMalformed, VoucherForged) as error:
        refusal = error
    shop = execute(_shop_and_partner(), {
        "shop_id": actor.shop_id, "community_id": signed[1].community_id if signed else None}).first()
    if shop is None:
        raise NotFound()
    if not shop.is_active:
        raise ShopInactive()
    if refusal is not None:
        raise refusal
    if not shop.is_partner:
        raise VoucherNotFound()
    return shop, signed[1].voucher_id, signed[1].community_id, signed


@functools.lru_cache(maxsize=1)
def _shop_and_partner() -> sa.Select:
    """The cashier's shop (id, name, active) and whether it partners the token's community (built once)."""
    shop_table, partnerships = Shop.__table__, ShopPartnership.__table__
    partner = sa.exists().where(partnerships.c.shop_id == shop_table.c.id,
                                partnerships.c.community_id == sa.bindparam("community_id"))
    return (sa.select(shop_table.c.id, shop_table.c.name, shop_table.c.is_active, partner.label("is_partner"))
            .where(shop_table.c.id == sa.bindparam("shop_id")))


def match_signed(voucher: Any, signed: tuple[str, tokens.Claims] | None) -> None:
    """Refuse (``voucher_forged``) a token whose claims are not what was issued as this voucher."""
    if signed is not None:
        kid, claims = signed
        if (voucher.kid, voucher.community_id, voucher.points, int(voucher.expires_at.timestamp())) != (
                kid, claims.community_id, claims.points, claims.expires_at):
            raise VoucherForged()  # signed by the community, but not what was issued as this voucher


def _lock_accounts(community_id: int, shop_id: int, household_id: int) -> tuple[int, int, dict[int, Any] | None]:
    """(shop account, household account, their locked rows) with one statement — the lock
    :func:`ledger.post` would take, in the same id order. The shop's account is opened on its
    first redemption (then ``post`` locks both itself)."""
    locks = ledger.lock(community_id, household_ids=[household_id], shop=shop_id)
    household = locks.households.get(household_id)
    if household is None:
        raise NotFound()
    if locks.shop_account is None:
        return ledger.shop_account(community_id, shop_id), household.id, None
    return locks.shop_account, household.id, locks


def verified(token: str) -> tuple[str, tokens.Claims]:
    """(kid, claims) of a token whose signature verifies against the key of the community it names."""
    try:
        kid, _ = tokens.peek(token)
        known = keys.public_key(kid)
        if known is None:
            raise VoucherForged()
        claims = tokens.verify(token, {kid: known[1]})
    except tokens.MalformedToken:
        raise VoucherCodeMalformed() from None
    except tokens.ForgedToken:
        raise VoucherForged() from None
    if claims.community_id != known[0]:
        raise VoucherForged()
    return kid, claims


def _check_guesses(actor: User, shop_id: int) -> None:
    cfg = current_app.config
    window = int(cfg["REDEEM_GUESS_WINDOW_MINUTES"]) * 60
    throttle.check(GUESS_SCOPE_CASHIER, str(actor.id), int(cfg["REDEEM_GUESSES_PER_CASHIER"]), window)
    throttle.check(GUESS_SCOPE_SHOP, str(shop_id), int(cfg["REDEEM_GUESSES_PER_SHOP"]), window)


def _failed_guess(actor: User, shop_id: int, error: Exception) -> Exception:
    """Record a failed short-code guess for both throttles; the refusal commits the record."""
    throttle.hit(GUESS_SCOPE_CASHIER, str(actor.id))
    throttle.hit(GUESS_SCOPE_SHOP, str(shop_id))
    error.keeps_changes = True  # type: ignore[attr-defined]
    return error


def _by_short_code(actor: User, shop_id: int, digits: str) -> tuple[str, int]:
    """(voucher id, community id) of a short code; the caller has checked the throttle once already."""
    if is_postgresql():
        # count-then-record is only exact if one short-code lookup per shop runs at a time, so
        # check again under a per-shop lock, held until the use case commits (a few ms);
        # SQLite's write lock already serialises it.
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_GUESS_LOCK_NAMESPACE, shop_id)))
        _check_guesses(actor, shop_id)
    if not shortcode.is_valid(digits):
        raise _failed_guess(actor, shop_id, VoucherCodeMalformed())
    found = lookup_short_code(digits, shop_id)
    if found is None:
        raise _failed_guess(actor, shop_id, VoucherNotFound())
    return found


def lookup_short_code(digits: str, shop_id: int) -> tuple[str, int] | None:
    """(voucher id, community id) of the voucher with this short code in one of the shop's partner
    communities, or None. A short code is unique within its community: a code that two partner
    communities both issued (a chance of about one in 10^15 per pair) is not guessed between — the
    cashier scans the QR instead. On Citus this is the redemption's one statement that asks more
    than one shard (the partner communities'); a scanned token names its community."""
    rows = execute(_short_code_lookup(), {"short_code": digits, "shop_id": shop_id}).all()
    return (rows[0].id, rows[0].community_id) if len(rows) == 1 else None


@functools.lru_cache(maxsize=1)
def _short_code_lookup() -> sa.Select:
    vouchers, partnerships = Voucher.__table__, ShopPartnership.__table__
    partners = sa.select(partnerships.c.community_id).where(partnerships.c.shop_id == sa.bindparam("shop_id"))
    return (sa.select(vouchers.c.id, vouchers.c.community_id)
            .where(vouchers.c.short_code == sa.bindparam("short_code"), vouchers.c.community_id.in_(partners))
            .limit(2))


# --- lists and corrections -----------------------------------------------------------------

def list_shop_redemptions(actor: User, shop_id: int, *, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    """A shop's redemptions, newest first: its cashiers see all of them, staff and admins
    those of their communities. Receipts only: never a household's balance."""
    shop = shops.shop_for(actor, shop_id, "admin", "staff", "cashier")
    stmt = sa.select(Redemption).where(Redemption.shop_id == shop.id)
    if actor.role == "staff":
        stmt = stmt.where(Redemption.community_id == actor.community_id)
    elif actor.role == "admin":
        scope = policy.admin_community_ids(actor)
        if scope is not None:
            stmt = stmt.where(Redemption.community_id.in_(scope or {-1}))
    page = keyset_page(stmt, Redemption.id, limit=limit, cursor=cursor)
    page["items"] = basket_redemption.with_lines([receipt_view(r, shop.name) for r in page["items"]])
    return page


def reverse_redemption(actor: User, redemption_id: int, *, reason: str) -> dict[str, Any]:
    """Undo a redemption after the fact (staff or admin of the voucher's community): the
    redemption's transaction is reversed exactly (escrow +face, shop −points, household −rest),
    then the face value leaves the escrow for the household, so the household gets back
    every point the shop had taken and the escrow holds nothing for a closed voucher. The
    voucher stays redeemed; ``reversed_at`` marks the receipt."""
    stmt = sa.select(Redemption).where(Redemption.id == redemption_id)
    if actor.community_id is not None:  # staff: their community's shard; an admin's login has no community
        stmt = stmt.where(Redemption.community_id == actor.community_id)
    redemption = db.session.scalar(lock_for_update(stmt).execution_options(populate_existing=True))
    if redemption is None:
        raise RedemptionNotFound()
    try:
        policy.community_for(actor, redemption.community_id, "admin", "staff")
    except NotFound:
        raise RedemptionNotFound() from None
    voucher = db.session.get(Voucher, (redemption.voucher_id, redemption.community_id))
    policy.ensure_not_own_household(actor, voucher.household_id)
    if redemption.reversed_at is not None:
        raise RedemptionAlreadyReversed()
    memo = reason[:255]
    reversal = ledger.reverse(redemption.transaction_id, community_id=redemption.community_id, actor_id=actor.id,
                              memo=memo, reference=("redemption", redemption.id))
    if voucher.card_id is None:  # a card payment's receipt voucher never held points in the escrow
        return_points(voucher, kind="voucher_return", actor_id=actor.id)
    basket_redemption.return_stock(redemption.id, actor_id=actor.id, now=reversal.created_at)  # a basket's goods
    redemption.reversed_at = reversal.created_at
    redemption.reversal_transaction_id = reversal.transaction_id
    audit.record(actor, "redemption.reverse", community_id=redemption.community_id, target=redemption,
                 data={"voucher_id": voucher.id, "shop_id": redemption.shop_id, "points": redemption.points,
                       "reason": reason})
    db.session.flush()
    return receipt_view(redemption)


# the old private names, for code written against them (the offline sync used them); one release
_verified = verified
_match_signed = match_signed
#: for card payments (pointsbank.cards.payments): the cashier's shop and partnership, the accounts' lock
shop_and_partner = _shop_and_partner
lock_accounts = _lock_accounts
