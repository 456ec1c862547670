"""Vouchers: drawn from a household's redeemable points into the community's escrow.

``issue_voucher(resident, points=30)`` posts ``household −30, vouchers +30`` with the
household's floor at the community's base (the ledger locks the household row, so concurrent
vouchers can never draw more than is redeemable), and answers the voucher with its signed
token and its short code::

    {"id": "9f…", "points": 30, "short_code": "5724 9810 3665 4214", "token": "PB1.…",
     "expires_at": "2026-05-16T02:00:00+00:00", "status": "issued", …}

Cancelling posts ``vouchers −30, household +30``. The token is not stored: Ed25519 is
deterministic, so signing the voucher's claims again with the key it names gives the same
token; QR images of it are rendered once per process and kept in a small LRU.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community import freeze
from pointsbank.errors import NotFound
from pointsbank.database import execute
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.pagination import page_of
from pointsbank.redeem import keys, qr, shortcode, tokens
from pointsbank.redeem.models import Redemption, Voucher
from pointsbank.redeem.services import (HouseholdRequired, PointsNotPositive, close_voucher, effective_status,
                                        ensure_redeemable, lock_voucher, receipt_view, voucher_for)

API = "/api/v1"


# --- issue ---------------------------------------------------------------------------------

def issue_voucher(actor: User, *, points: int, household_id: int | None = None) -> dict[str, Any]:
    """A resident for their own household; staff for any household of their community but
    their own (conflict of interest); a proxy (a resident or grid worker with a grant) for the
    household it helps. A frozen household's voucher is refused (``household_frozen``)."""
    policy.require_role(actor, "resident", "staff", "grid_worker")
    if actor.role == "resident" and household_id is None:
        household_id = actor.household_id
    if household_id is None:
        raise HouseholdRequired()
    household = policy.household_ref(actor, household_id, "resident", "staff", "grid_worker", proxy=True)
    policy.ensure_may_spend(actor, household.id, household.community_id)
    if actor.role == "staff":
        policy.ensure_not_own_household(actor, household.id)
    if points < 1:
        raise PointsNotPositive()
    community_id = household.community_id
    voucher_id = secrets.token_hex(16)
    account = ledger.lock_household_accounts(community_id, [household.id]).get(household.id)
    if account is None:
        raise NotFound()
    freeze.ensure_not_frozen(community_id, household.id)  # under the account's lock: see community.freeze
    escrow = ledger.system_accounts(community_id)["vouchers"]
    posted = ledger.post(community_id, "voucher_issue", [(account.id, -points), (escrow, points)], actor_id=actor.id,
                         reference=("voucher", voucher_id), minimums={account.id: household.base_points},
                         locked={account.id: account})
    pair = keys.active_key(community_id)
    values = {"id": voucher_id, "community_id": community_id, "household_id": household.id, "points": points,
              "short_code": _fresh_short_code(community_id), "kid": pair.kid, "status": "issued",
              "expires_at": (posted.created_at + timedelta(hours=household.voucher_ttl_hours)).replace(microsecond=0),
              "created_by_id": actor.id, "issue_transaction_id": posted.transaction_id,
              "closing_transaction_id": None, "created_at": posted.created_at, "closed_at": None}
    execute(_voucher_insert(), values)
    audit.record(actor, "voucher.issue", community_id=community_id, target_type="voucher", target_id=voucher_id,
                 data={"household_id": household.id, "points": points})
    voucher = SimpleNamespace(**values)
    return voucher_view(voucher, token=token_of(voucher, pair))


@functools.lru_cache(maxsize=1)
def _voucher_insert() -> sa.Insert:
    """Built once: the voucher row is written with Core (the ORM's flush cost more than the insert)."""
    return sa.insert(Voucher.__table__)


def _fresh_short_code(community_id: int) -> str:
    """A short code no voucher of the community has (unique within it, like every key of a
    distributed table: the check stays on the community's shard). A cashier's typed code is looked
    up among the shop's partner communities (``redemptions.lookup_short_code``)."""
    # 10^15 random codes: a clash is astronomically rare, but the unique key must never be the one to notice
    for _ in range(5):
        code = shortcode.generate()
        if execute(_short_code_taken(), {"code": code, "community_id": community_id}).scalar() is None:
            return code
    raise RuntimeError("could not draw an unused short code")


@functools.lru_cache(maxsize=1)
def _short_code_taken() -> sa.Select:
    vouchers = Voucher.__table__
    return sa.select(vouchers.c.id).where(vouchers.c.community_id == sa.bindparam("community_id"),
                                          vouchers.c.short_code == sa.bindparam("code"))


def token_of(voucher: Voucher, pair: tokens.KeyPair | None = None) -> str:
    pair = pair or keys.keypair_for_kid(voucher.kid)
    return tokens.sign(pair, tokens.Claims(voucher_id=voucher.id, community_id=voucher.community_id,
                                           points=voucher.points, expires_at=int(voucher.expires_at.timestamp())))


def voucher_view(voucher: Voucher, *, token: str | None = None, receipt: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": voucher.id, "community_id": voucher.community_id, "household_id": voucher.household_id,
        "points": voucher.points, "status": effective_status(voucher), "expires_at": voucher.expires_at,
        "short_code": shortcode.format(voucher.short_code), "token": token,
        "qr_png_url": f"{API}/vouchers/{voucher.id}/qr.png", "qr_svg_url": f"{API}/vouchers/{voucher.id}/qr.svg",
        "created_at": voucher.created_at, "closed_at": voucher.closed_at, "receipt": receipt,
    }


# --- read ----------------------------------------------------------------------------------

def get_voucher(actor: User, voucher_id: str) -> dict[str, Any]:
    """One voucher with its token, and once redeemed its receipt."""
    voucher = voucher_for(actor, voucher_id, "admin", "staff", "grid_worker", "resident")
    redemption = db.session.scalar(sa.select(Redemption).where(Redemption.voucher_id == voucher.id)) \
        if voucher.status == "redeemed" else None
    return voucher_view(voucher, token=token_of(voucher),
                        receipt=receipt_view(redemption) if redemption is not None else None)


def list_household_vouchers(actor: User, household_id: int, *, status: str | None = None, limit: int = 50,
                            cursor: str | None = None) -> dict[str, Any]:
    """A household's vouchers, newest first (ordered by their issue transaction)."""
    household = policy.household_for(actor, household_id, "admin", "staff", "grid_worker", "resident", proxy=True)
    policy.ensure_may_spend(actor, household.id, household.community_id)
    # a card payment's receipt voucher (card_id set) is a receipt, not a voucher the household holds
    stmt = sa.select(Voucher).where(Voucher.household_id == household_id, Voucher.card_id.is_(None))
    now = clock.now()
    if status == "issued":
        stmt = stmt.where(Voucher.status == "issued", Voucher.expires_at > now)
    elif status == "expired":
        stmt = stmt.where(sa.or_(Voucher.status == "expired",
                                 sa.and_(Voucher.status == "issued", Voucher.expires_at <= now)))
    elif status is not None:
        stmt = stmt.where(Voucher.status == status)
    if cursor is not None:
        stmt = stmt.where(Voucher.issue_transaction_id < int(cursor))
    rows = list(db.session.scalars(stmt.order_by(Voucher.issue_transaction_id.desc()).limit(limit + 1)))
    page = page_of(rows, limit, lambda v: v.issue_transaction_id)
    page["items"] = [voucher_view(v) for v in page["items"]]
    return page


# --- QR images -----------------------------------------------------------------------------

@dataclass(frozen=True)
class QrImage:
    body: bytes
    mimetype: str
    etag: str
    max_age: int


class _Lru:
    """A small thread-safe LRU of rendered images (a token never changes, nor its image)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> tuple[bytes, str] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], value: tuple[bytes, str]) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


qr_cache = _Lru(1024)
_MIMETYPES = {"png": "image/png", "svg": "image/svg+xml"}


def voucher_qr(actor: User, voucher_id: str, kind: str) -> QrImage:
    """The QR image of an open voucher's token (``kind`` png or svg), cacheable until it expires."""
    voucher = voucher_for(actor, voucher_id, "admin", "staff", "grid_worker", "resident")
    now = clock.now()
    ensure_redeemable(voucher, now=now)
    cached = qr_cache.get((voucher.id, kind))
    if cached is None:
        token = token_of(voucher)
        body = qr.render_png(token) if kind == "png" else qr.render_svg(token)
        cached = (body, hashlib.sha256(body).hexdigest()[:32])
        qr_cache.put((voucher.id, kind), cached)
    return QrImage(body=cached[0], mimetype=_MIMETYPES[kind], etag=cached[1],
                   max_age=max(0, int((voucher.expires_at - now).total_seconds())))


# --- cancel --------------------------------------------------------------------------------

def cancel_voucher(actor: User, voucher_id: str) -> dict[str, Any]:
    """Take an open voucher back: its points return to the household. A voucher whose time
    has run out but that the expiry job has not reached yet is closed as expired, the same way."""
    voucher = voucher_for(actor, voucher_id, "staff", "grid_worker", "resident")
    voucher = lock_voucher(voucher.id, voucher.community_id)
    now = clock.now()
    if voucher.status != "issued":
        ensure_redeemable(voucher, now=now)
    expired = voucher.expires_at <= now
    posted = return_points(voucher, kind="expiry" if expired else "voucher_return", actor_id=actor.id)
    close_voucher(voucher, status="expired" if expired else "cancelled", transaction_id=posted.transaction_id,
                  closed_at=posted.created_at)
    audit.record(actor, "voucher.cancel", community_id=voucher.community_id, target=voucher,
                 data={"household_id": voucher.household_id, "points": voucher.points, "status": voucher.status})
    db.session.flush()
    return voucher_view(voucher)


def return_points(voucher: Voucher, *, kind: str, actor_id: int | None) -> ledger.Posted:
    """``vouchers −points, household +points`` for a voucher that closes without a redemption."""
    escrow = ledger.system_accounts(voucher.community_id)["vouchers"]
    account = ledger.household_account_id(voucher.household_id, community_id=voucher.community_id)
    return ledger.post(voucher.community_id, kind, [(escrow, -voucher.points), (account, voucher.points)],
                       actor_id=actor_id, reference=("voucher", voucher.id))
