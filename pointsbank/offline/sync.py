"""``POST /redemptions/sync``: what a cashier's phone redeemed without signal, taken once.

The phone sends its queue: ``{device_id, redemptions: [{client_id, code, points, redeemed_at}]}``.
Each item is answered, in the order sent, with one of:

* ``accepted`` — the voucher was open: exactly what an online redemption does (one ledger
  ``redemption``: escrow −face, shop +points, household +rest), the receipt dated ``redeemed_at``
  so the shop's receipts and its quarter's settlement count it at the moment it happened — unless
  the shop's statement for that quarter is already built: then at the sync, in the open quarter;
* ``duplicate`` — this client id was taken already (by an earlier sync, or earlier in this
  batch): nothing moves, the answer says what it was (``original_status``);
* ``double_spend`` — signed, in time and within the caps, but the voucher had been closed
  before: redeemed (online, or by another offline device that synced first), cancelled or
  expired home. The shop acted within the rules and is paid; the household pays, with an
  ``offline_overdraft`` (household −points, shop +points) that may take it below its base.
  Staff follow it up (``GET /communities/{id}/double-spends``);
* ``refused`` with a ``reason``: ``device_revoked``, ``short_code_offline`` (a short code carries
  no signature, so a phone cannot check it), ``voucher_code_malformed``, ``voucher_forged``,
  ``offline_not_enabled`` (the voucher's community does not allow it), ``voucher_not_found``
  (not a partner community's), ``shop_inactive``, ``redeemed_at_in_future``,
  ``before_device_registered``, ``over_hours_cap`` (synced more than ``max_hours`` after it was
  redeemed), ``voucher_expired`` (at ``redeemed_at``), ``points_exceed_voucher``,
  ``over_points_cap`` (the device then held more than ``max_points_per_device`` unsynced),
  ``household_frozen`` (the voucher's household is frozen at the sync: no points move for it,
  not even a double spend's overdraft — see ``pointsbank.community.freeze``).

The points cap is the phone's own rule, recomputed: when an item was redeemed, the device held
every item it had redeemed before and not yet synced; those, plus this one, may not pass the cap.

Every item is recorded (refusals too: they are the report), unique by client id within the
device's community. Concurrency: the device row is locked first (one sync per device at a
time, so the client-id check is exact), then every voucher of the batch in id order, then every
account in id order — the order an online redemption takes them in (voucher, then accounts),
so syncs and online redemptions never deadlock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Sequence

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.community import freeze
from pointsbank.community.models import Community
from pointsbank.database import execute, lock_for_update, lock_row
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.ledger.models import Account
from pointsbank.offline.models import Device, OfflineRedemption
from pointsbank.offline.services import DeviceNotFound, settings_of
from pointsbank.redeem import redemptions, tokens
from pointsbank.redeem.models import Shop, ShopPartnership, Voucher
from pointsbank.redeem.services import VoucherCodeMalformed, VoucherForged
from pointsbank.reports import periods
from pointsbank.reports.models import SettlementStatement

#: how far a phone's clock may run ahead of the server's
CLOCK_SKEW = timedelta(minutes=5)
MAX_ITEMS = 200

REASONS = {
    "device_revoked": _l("This device was revoked: its offline redemptions are not taken."),
    "short_code_offline": _l("A typed short code cannot be checked without a connection; scan the QR code."),
    "voucher_code_malformed": _l("This is not a voucher code."),
    "voucher_forged": _l("This voucher's signature is not valid: it was altered or not issued by the community."),
    "offline_not_enabled": _l("The voucher's community does not allow offline redemption."),
    "voucher_not_found": _l("No voucher matches this code."),
    "shop_inactive": _l("This shop no longer redeems vouchers."),
    "redeemed_at_in_future": _l("The moment of the redemption is in the future: check the phone's clock."),
    "before_device_registered": _l("The moment of the redemption is before this device was registered."),
    "over_hours_cap": _l("Synced too late: offline redemptions must be synced within the community's hours."),
    "voucher_expired": _l("The voucher had expired when it was redeemed."),
    "points_exceed_voucher": _l("More points than the voucher is worth."),
    "over_points_cap": _l("Beyond the device's cap of points redeemed offline and not yet synced."),
    "household_frozen": _l("The voucher's household is frozen: no points move for it until staff unfreeze it."),
    "voucher_already_redeemed": _l("The voucher had already been redeemed: the shop is paid, the household pays."),
    "voucher_cancelled": _l("The voucher had been cancelled: the shop is paid, the household pays."),
    "points_returned": _l("The voucher's points had gone back home at expiry: the shop is paid, the household pays."),
}


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sync(actor: User, *, device_id: int, redemptions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    policy.require_role(actor, "cashier")
    device = lock_row(Device, device_id)
    if device is None or device.shop_id != actor.shop_id:
        raise DeviceNotFound()
    now = clock.now()
    shop = db.session.get(Shop, device.shop_id)
    items = [{**item, "client_id": str(item["client_id"]).lower(), "code": (item["code"] or "").strip(),
              "redeemed_at": item["redeemed_at"], "index": index} for index, item in enumerate(redemptions)]
    answers: dict[int, dict[str, Any]] = {}

    known = {row.client_id: row for row in db.session.scalars(sa.select(OfflineRedemption).where(
        OfflineRedemption.community_id == device.community_id,
        OfflineRedemption.client_id.in_({i["client_id"] for i in items})))} if items else {}
    fresh, seen = [], set()
    for item in items:
        prior = known.get(item["client_id"])
        if prior is not None or item["client_id"] in seen:
            if prior is not None and prior.device_id != device.id:
                answers[item["index"]] = _answer(item, "refused", "client_id_taken")
            else:
                answers[item["index"]] = {"client_id": item["client_id"], "status": "duplicate",
                                          "original_status": prior.status if prior is not None else None,
                                          "reason": prior.reason if prior is not None else None,
                                          "offline_redemption_id": prior.id if prior is not None else None,
                                          "redemption_id": prior.redemption_id if prior is not None else None,
                                          "message": str(_l("Already synced: nothing changes."))}
            continue
        seen.add(item["client_id"])
        item["claims"] = item["refusal"] = None
        if not tokens.looks_like_token(item["code"]):
            item["refusal"] = "short_code_offline"
        else:
            try:
                item["claims"] = redemptions_verified(item["code"])
            except VoucherCodeMalformed:
                item["refusal"] = "voucher_code_malformed"
            except VoucherForged:
                item["refusal"] = "voucher_forged"
        fresh.append(item)

    signed = [i for i in fresh if i["claims"] is not None]
    vouchers = _lock_vouchers({(i["claims"].community_id, i["claims"].voucher_id) for i in signed})
    communities = sorted({v.community_id for v in vouchers.values()})
    settings = {cid: settings_of(cid) for cid in communities}
    partners = set(db.session.scalars(sa.select(ShopPartnership.community_id).where(
        ShopPartnership.shop_id == shop.id))) if signed else set()
    point_values = dict(db.session.execute(sa.select(Community.id, Community.point_value_fen).where(
        Community.id.in_(communities))).tuples().all()) if communities else {}
    households: dict[int, set[int]] = {}
    for voucher in vouchers.values():
        households.setdefault(voucher.community_id, set()).add(voucher.household_id)
    accounts = _lock_accounts(shop.id, [cid for cid in communities if cid in partners], households)
    # after the accounts are locked (freeze's rule): the households frozen now, one statement per community
    frozen = {(cid, hid) for cid, ids in households.items() for hid in freeze.frozen_among(cid, ids)}
    held = _held_offline(device, min((i["redeemed_at"] for i in fresh), default=now))
    states = {vid: v.status for vid, v in vouchers.items()}

    counts = {"accepted": 0, "duplicate": 0, "double_spend": 0, "refused": 0}
    for item in sorted(fresh, key=lambda i: (i["redeemed_at"], i["client_id"])):
        voucher = vouchers.get(item["claims"].voucher_id) if item["claims"] is not None else None
        try:
            _check(item, device, shop, voucher, settings, partners, held, now)
            if voucher is not None and (voucher.community_id, voucher.household_id) in frozen:
                raise _Refused("household_frozen")
            status, reason, posted, redemption_id = _take(actor, item, shop, voucher, states, accounts,
                                                          point_values)
        except _Refused as refusal:
            status, reason, posted, redemption_id = "refused", refusal.reason, None, None
        row = _record(actor, device, item, voucher, status, reason, now, posted, redemption_id,
                      point_values.get(voucher.community_id) if voucher is not None else None)
        if status != "refused":
            held.append((item["redeemed_at"], now, item["points"]))
        answers[item["index"]] = {**_answer(item, status, reason), "offline_redemption_id": row.id,
                                  "redemption_id": redemption_id,
                                  "voucher_id": voucher.id if voucher is not None else None}
    results = [answers[i] for i in range(len(items))]
    for result in results:
        counts[result["status"]] += 1
    audit.record(actor, "offline.sync", community_id=device.community_id, target_type="device", target_id=device.id,
                 data={"counts": counts, "double_spends": [r["client_id"] for r in results
                                                           if r["status"] == "double_spend"],
                       "refused": {r["client_id"]: r["reason"] for r in results if r["status"] == "refused"}})
    return {"device_id": device.id, "synced_at": now, "counts": counts, "results": results}


def redemptions_verified(code: str) -> tokens.Claims:
    """The claims of a token verified exactly as an online redemption verifies it."""
    return redemptions.verified(code)[1]


def _answer(item: dict[str, Any], status: str, reason: str | None) -> dict[str, Any]:
    return {"client_id": item["client_id"], "status": status, "reason": reason,
            "message": str(REASONS.get(reason, "")) if reason else "", "points": item["points"]}


def _check(item: dict[str, Any], device: Device, shop: Any, voucher: Voucher | None, settings: dict[int, Any],
           partners: set[int], held: list[tuple[datetime, datetime, int]], now: datetime) -> None:
    """Raise :class:`_Refused` with the first rule the item breaks (the order of the module doc)."""
    if device.revoked_at is not None:
        raise _Refused("device_revoked")
    if item["refusal"]:
        raise _Refused(item["refusal"])
    claims = item["claims"]
    if voucher is None or voucher.community_id != claims.community_id:
        raise _Refused("voucher_not_found")
    rules = settings[voucher.community_id]
    if not rules["enabled"]:
        raise _Refused("offline_not_enabled")
    if voucher.community_id not in partners:
        raise _Refused("voucher_not_found")
    if not shop.is_active:
        raise _Refused("shop_inactive")
    try:
        redemptions.match_signed(voucher, (voucher.kid, claims))
    except VoucherForged:
        raise _Refused("voucher_forged") from None
    at = item["redeemed_at"]
    if at > now + CLOCK_SKEW:
        raise _Refused("redeemed_at_in_future")
    if at < device.created_at - CLOCK_SKEW:
        raise _Refused("before_device_registered")
    if now - at > timedelta(hours=rules["max_hours"]):
        raise _Refused("over_hours_cap")
    if claims.expires_at <= int(at.timestamp()):
        raise _Refused("voucher_expired")
    if item["points"] > voucher.points:
        raise _Refused("points_exceed_voucher")
    holding = sum(points for redeemed, synced, points in held if redeemed <= at < synced)
    if holding + item["points"] > rules["max_points_per_device"]:
        raise _Refused("over_points_cap")


def _take(actor: User, item: dict[str, Any], shop: Any, voucher: Voucher, states: dict[str, str],
          accounts: dict[tuple[str, int], int],
          point_values: dict[int, int]) -> tuple[str, str | None, Any, int | None]:
    """Move the points: a redemption if the voucher is still open, else an offline_overdraft."""
    community_id, points = voucher.community_id, item["points"]
    shop_account = accounts[("shop", community_id)]
    household_account = accounts[("household", voucher.household_id)]
    if states[voucher.id] == "issued":
        taken = redemptions.redeem_voucher(
            voucher, shop_id=shop.id, cashier_id=actor.id, points=points, point_value_fen=point_values[community_id],
            shop_account=shop_account, household_account=household_account,
            counted_at=_counted_at(community_id, shop.id, item["redeemed_at"]), closed_at=item["redeemed_at"])
        posted, redemption_id = taken.posted, taken.redemption_id
        states[voucher.id] = "redeemed"
        return "accepted", None, posted, redemption_id
    reason = {"redeemed": "voucher_already_redeemed", "cancelled": "voucher_cancelled"}.get(states[voucher.id],
                                                                                           "points_returned")
    posted = ledger.post(community_id, "offline_overdraft", [(household_account, -points), (shop_account, points)],
                         actor_id=actor.id, reference=("offline_redemption", item["client_id"]), memo=reason)
    return "double_spend", reason, posted, None


def _record(actor: User, device: Device, item: dict[str, Any], voucher: Voucher | None, status: str,
            reason: str | None, now: datetime, posted: Any, redemption_id: int | None,
            point_value: int | None) -> OfflineRedemption:
    taken = status != "refused"
    row = OfflineRedemption(
        community_id=device.community_id, device_id=device.id, shop_id=device.shop_id, client_id=item["client_id"],
        code=item["code"][:512], voucher_id=voucher.id if voucher is not None else None,
        voucher_community_id=voucher.community_id if voucher is not None else None,
        household_id=voucher.household_id if voucher is not None else None, points=item["points"],
        point_value_fen=point_value if taken else None,
        value_fen=item["points"] * point_value if taken and point_value is not None else None,
        redeemed_at=item["redeemed_at"], synced_at=now, synced_by_id=actor.id, status=status, reason=reason,
        redemption_id=redemption_id, transaction_id=posted.transaction_id if posted is not None else None)
    db.session.add(row)
    db.session.flush()
    return row


def _lock_vouchers(vouchers: set[tuple[int, str]]) -> dict[str, Any]:
    """The batch's vouchers ((community, id) as their tokens name them), locked community by
    community in id order (as committed): one statement per community, as Citus routes a lock."""
    table = Voucher.__table__
    found: dict[str, Any] = {}
    for community_id in sorted({c for c, _ in vouchers}):
        ids = sorted(v for c, v in vouchers if c == community_id)
        stmt = lock_for_update(sa.select(table).where(table.c.community_id == community_id, table.c.id.in_(ids))
                               .order_by(table.c.id))
        found.update((row.id, row) for row in execute(stmt))
    return found


def _lock_accounts(shop_id: int, community_ids: list[int],
                   household_ids: dict[int, set[int]]) -> dict[tuple[str, int], int]:
    """The shop's account in each community and the households' accounts (community → household
    ids), locked community by community in id order (``ledger.post`` locks them again, already
    held). ``("shop", community) / ("household", id)`` → account id."""
    found: dict[tuple[str, int], int] = {}
    by_community: dict[int, list[int]] = {}
    for community_id in community_ids:
        found[("shop", community_id)] = ledger.shop_account(community_id, shop_id)
        by_community.setdefault(community_id, []).append(found[("shop", community_id)])
    for community_id, ids in household_ids.items():
        for account_id, household_id in db.session.execute(sa.select(Account.id, Account.household_id).where(
                Account.community_id == community_id, Account.household_id.in_(ids))):
            found[("household", household_id)] = account_id
            by_community.setdefault(community_id, []).append(account_id)
    ledger.lock_accounts(by_community)
    return found


def _counted_at(community_id: int, shop_id: int, redeemed_at: datetime) -> datetime:
    """When the settlement counts a synced redemption: at ``redeemed_at``, unless the shop's
    statement for that quarter is already built — then at the sync (the next open quarter takes
    it), so a built statement's lines never gain a redemption its totals do not hold."""
    timezone = db.session.scalar(sa.select(Community.timezone).where(Community.id == community_id))
    period = periods.quarter_of(periods.local_date(redeemed_at, timezone)).key
    built = db.session.scalar(sa.select(SettlementStatement.id).where(
        SettlementStatement.community_id == community_id, SettlementStatement.shop_id == shop_id,
        SettlementStatement.period == period))
    return clock.now() if built is not None else redeemed_at


def _held_offline(device: Device, since: datetime) -> list[tuple[datetime, datetime, int]]:
    """(redeemed_at, synced_at, points) of the device's taken items still unsynced at ``since`` or later."""
    return [tuple(row) for row in db.session.execute(
        sa.select(OfflineRedemption.redeemed_at, OfflineRedemption.synced_at, OfflineRedemption.points).where(
            OfflineRedemption.community_id == device.community_id, OfflineRedemption.device_id == device.id,
            OfflineRedemption.status != "refused", OfflineRedemption.synced_at > since))]
