"""The community's offline setting, the shops' devices and the double spends staff follow up.

Who may do what:

* ``offline`` settings: the community's admins (``PATCH /communities/{id}``); everyone who may
  read the community reads them.
* devices: a cashier registers their phone as a device of their own shop; staff and admins of
  a community the shop partners with register and revoke its devices as well. Revoking is
  once (409 after); a revoked device's syncs are refused item by item (``device_revoked``).
* double spends: staff and admins of the voucher's community list them and mark one settled
  (once, audited, with a note).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.errors import Conflict, NotFound
from pointsbank.database import row_by_id
from pointsbank.extensions import db
from pointsbank.offline.models import Device, OfflineRedemption, OfflineSettings
from pointsbank.pagination import keyset_page
from pointsbank.redeem import shops
from pointsbank.redeem.models import Redemption, Shop
from pointsbank.redeem.services import receipt_view

DEFAULTS = {"enabled": False, "max_points_per_device": 500, "max_hours": 24}


class DeviceNotFound(NotFound):
    code = "device_not_found"
    message = _l("No such device.")


class DeviceAlreadyRevoked(Conflict):
    code = "device_already_revoked"
    message = _l("This device was already revoked.")


class DoubleSpendNotFound(NotFound):
    code = "double_spend_not_found"
    message = _l("No such double spend.")


class DoubleSpendAlreadySettled(Conflict):
    code = "double_spend_already_settled"
    message = _l("This double spend was already marked settled.")


# --- the community setting -----------------------------------------------------------------

def settings_of(community_id: int) -> dict[str, Any]:
    row = db.session.get(OfflineSettings, community_id)
    if row is None:
        return dict(DEFAULTS)
    return {"enabled": row.enabled, "max_points_per_device": row.max_points_per_device, "max_hours": row.max_hours}


def update_settings(actor: User | None, community_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply ``offline: {enabled, max_points_per_device, max_hours}`` (any of them) to a community
    the caller already may change (the community service checked); audited with before/after."""
    row = db.session.get(OfflineSettings, community_id)
    before = settings_of(community_id)
    if row is None:
        row = OfflineSettings(community_id=community_id, **DEFAULTS)
        db.session.add(row)
    for key in DEFAULTS:
        if changes.get(key) is not None:
            setattr(row, key, changes[key])
    row.updated_at = clock.now()
    db.session.flush()
    after = settings_of(community_id)
    audit.record(actor, "community.offline", community_id=community_id, target_type="community",
                 target_id=community_id, data={"before": before, "after": after})
    return after


# --- devices -------------------------------------------------------------------------------

def device_view(device: Device) -> dict[str, Any]:
    return {"id": device.id, "name": device.name, "shop_id": device.shop_id, "community_id": device.community_id,
            "created_at": device.created_at, "created_by_id": device.created_by_id,
            "revoked_at": device.revoked_at, "revoked_by_id": device.revoked_by_id}


def _shop_managed(actor: User, shop_id: int) -> Shop:
    """The shop if ``actor`` is its cashier or staff/admin of a partner community (else 404)."""
    return shops.shop_for(actor, shop_id, "admin", "staff", "cashier")


def register_device(actor: User, shop_id: int, *, name: str) -> dict[str, Any]:
    shop = _shop_managed(actor, shop_id)
    device = Device(community_id=shop.community_id, shop_id=shop.id, name=name.strip()[:100],
                    created_by_id=actor.id, created_at=clock.now())
    db.session.add(device)
    db.session.flush()
    audit.record(actor, "device.register", community_id=shop.community_id, target_type="device",
                 target_id=device.id, data={"shop_id": shop.id, "name": device.name})
    return device_view(device)


def list_devices(actor: User, shop_id: int) -> list[dict[str, Any]]:
    shop = _shop_managed(actor, shop_id)
    return [device_view(d) for d in db.session.scalars(
        sa.select(Device).where(Device.community_id == shop.community_id, Device.shop_id == shop.id)
        .order_by(Device.id))]


def device_for(actor: User, device_id: int) -> Device:
    """The device if ``actor`` may manage its shop; 404 ``device_not_found`` otherwise."""
    policy.require_role(actor, "admin", "staff", "cashier")
    device = row_by_id(Device, device_id)
    if device is None:
        raise DeviceNotFound()
    try:
        _shop_managed(actor, device.shop_id)
    except NotFound:
        raise DeviceNotFound() from None
    return device


def revoke_device(actor: User, device_id: int) -> dict[str, Any]:
    device = device_for(actor, device_id)
    if device.revoked_at is not None:
        raise DeviceAlreadyRevoked()
    device.revoked_at = clock.now()
    device.revoked_by_id = actor.id
    db.session.flush()
    audit.record(actor, "device.revoke", community_id=device.community_id, target_type="device",
                 target_id=device.id, data={"shop_id": device.shop_id, "name": device.name})
    return device_view(device)


# --- double spends ---------------------------------------------------------------------------

def offline_view(row: OfflineRedemption, device_names: dict[int, str] | None = None) -> dict[str, Any]:
    names = device_names or {}
    return {"id": row.id, "client_id": row.client_id, "device_id": row.device_id,
            "device_name": names.get(row.device_id), "shop_id": row.shop_id, "voucher_id": row.voucher_id,
            "household_id": row.household_id, "points": row.points, "value_fen": row.value_fen,
            "redeemed_at": row.redeemed_at, "synced_at": row.synced_at, "status": row.status, "reason": row.reason,
            "redemption_id": row.redemption_id, "transaction_id": row.transaction_id}


def double_spend_view(row: OfflineRedemption) -> dict[str, Any]:
    """The double spend with both receipts: the one that closed the voucher first (online or an
    earlier offline sync; none when the voucher was cancelled or expired home) and this one."""
    first = None
    redemption = db.session.scalar(sa.select(Redemption).where(Redemption.voucher_id == row.voucher_id))
    if redemption is not None:
        first = receipt_view(redemption)
        first_offline = db.session.scalar(sa.select(OfflineRedemption).where(
            OfflineRedemption.redemption_id == redemption.id))
        first["offline"] = first_offline is not None
        first["device_id"] = first_offline.device_id if first_offline is not None else None
    second_shop = db.session.get(Shop, row.shop_id)
    device = db.session.get(Device, (row.device_id, row.community_id))
    second = {**offline_view(row, {device.id: device.name}), "shop_name": second_shop.name if second_shop else None}
    return {"id": row.id, "community_id": row.voucher_community_id, "voucher_id": row.voucher_id,
            "household_id": row.household_id, "points": row.points, "reason": row.reason,
            "first": first, "second": second, "settled_at": row.settled_at, "settled_by_id": row.settled_by_id,
            "settle_note": row.settle_note}


def list_double_spends(actor: User, community_id: int, *, status: str = "open", limit: int = 50,
                       cursor: str | None = None) -> dict[str, Any]:
    community = policy.community_for(actor, community_id, "admin", "staff")
    stmt = sa.select(OfflineRedemption).where(OfflineRedemption.voucher_community_id == community.id,
                                              OfflineRedemption.status == "double_spend")
    if status == "open":
        stmt = stmt.where(OfflineRedemption.settled_at.is_(None))
    elif status == "settled":
        stmt = stmt.where(OfflineRedemption.settled_at.is_not(None))
    page = keyset_page(stmt, OfflineRedemption.id, limit=limit, cursor=cursor)
    page["items"] = [double_spend_view(row) for row in page["items"]]
    return page


def settle_double_spend(actor: User, double_spend_id: int, *, note: str) -> dict[str, Any]:
    """Staff mark a double spend followed up (the household was spoken to, the points made good
    by a later award or an adjustment — which go through their own routes)."""
    policy.require_role(actor, "admin", "staff")
    row = row_by_id(OfflineRedemption, double_spend_id)
    if row is None or row.status != "double_spend":
        raise DoubleSpendNotFound()
    try:
        policy.community_for(actor, row.voucher_community_id, "admin", "staff")
    except NotFound:
        raise DoubleSpendNotFound() from None
    if row.settled_at is not None:
        raise DoubleSpendAlreadySettled()
    row.settled_at = clock.now()
    row.settled_by_id = actor.id
    row.settle_note = note.strip()[:500]
    db.session.flush()
    audit.record(actor, "double_spend.settle", community_id=row.voucher_community_id, target_type="offline_redemption",
                 target_id=row.id, data={"voucher_id": row.voucher_id, "household_id": row.household_id,
                                         "points": row.points, "note": row.settle_note})
    return double_spend_view(row)
