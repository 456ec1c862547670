"""The catalogue of a shop: items priced in points, who sees them, and whether a household may take one.

``create_item(staff, shop_id, name={"zh": "大米 5kg", "en": "Rice 5 kg"}, points=60, stock=20,
limit={"period": "month", "count": 1})`` puts rice on the shelf with an opening delivery of 20
(a stock movement), and answers the item::

    {"id": 7, "shop_id": 3, "name": {"zh": "大米 5kg", "en": "Rice 5 kg"}, "points": 60, "stock": 20,
     "limit": {"period": "month", "count": 1}, "is_available": True, …}

Who: staff and admins of a community the shop partners with manage the catalogue (the shop's
cashiers never); every login of a partner community, and the shop's cashiers, read it. A
resident's list says for each item whether their household may take it and, if not, why
(``cannot_afford``, ``household_limit_reached``, ``stars_required``, ``item_unavailable``,
``out_of_stock``). ``stock`` null means unlimited; it changes only through stock movements
(:mod:`pointsbank.shelf.services.stock`), never by editing the item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from pointsbank import clock
from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.database import insert_or_conflict, row_by_id
from pointsbank.errors import Forbidden, NotFound
from pointsbank.extensions import db
from pointsbank.redeem import shops
from pointsbank.redeem.models import Shop, ShopPartnership
from pointsbank.rules.models import Evidence
from pointsbank.regions import stars
from pointsbank.shelf.models import ShelfItem
from pointsbank.shelf.refusals import BarcodeTaken, EvidenceNotFound, InvalidItem, ItemNotFound

API = "/api/v1"
REASONS = ("cannot_afford", "household_limit_reached", "stars_required", "item_unavailable", "out_of_stock")
IMAGE_TYPES = ("image/jpeg", "image/png")
EDITABLE = ("name", "points", "barcode", "photo_evidence_id", "limit", "min_stars", "available_from",
            "available_until", "is_active")


# --- who sees a shelf ----------------------------------------------------------------------

def shelf_shop(actor: User, shop_id: int) -> Shop:
    """The shop, if ``actor`` may read its shelf: its cashiers, every login of a partner
    community (admins: of a community they govern); 404 otherwise."""
    policy.require_role(actor, "admin", "staff", "grid_worker", "resident", "cashier")
    if actor.role in ("admin", "staff", "cashier"):
        return shops.shop_for(actor, shop_id, actor.role)
    shop = db.session.get(Shop, shop_id)
    if shop is None or actor.community_id is None or db.session.get(
            ShopPartnership, (actor.community_id, shop.id)) is None:
        raise NotFound()
    return shop


def managed_shop(actor: User, shop_id: int) -> Shop:
    """The shop, if ``actor`` is staff or an admin of a partner community (403 for other roles)."""
    return shops.shop_for(actor, shop_id, "admin", "staff")


def _item(item_id: int) -> ShelfItem:
    item = row_by_id(ShelfItem, item_id)
    if item is None:
        raise ItemNotFound()
    return item


def item_for(actor: User, item_id: int, *, manage: bool = False) -> tuple[ShelfItem, Shop]:
    """The item and its shop if ``actor`` may read (or, ``manage``, change) it; 404 ``item_not_found`` otherwise."""
    item = _item(item_id)
    try:
        shop = managed_shop(actor, item.shop_id) if manage else shelf_shop(actor, item.shop_id)
    except NotFound:
        raise ItemNotFound() from None
    if actor.role in ("resident", "grid_worker") and not item.is_active:
        raise ItemNotFound()
    return item, shop


# --- the item as the API answers it --------------------------------------------------------

def is_available(item: Any, now: datetime) -> bool:
    """Active, and within its availability window (``available_from`` ≤ now < ``available_until``)."""
    return bool(item.is_active) and (item.available_from is None or item.available_from <= now) and (
        item.available_until is None or now < item.available_until)


def item_view(item: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or clock.now()
    return {
        "id": item.id, "community_id": item.community_id, "shop_id": item.shop_id,
        "name": {"zh": item.name_zh, "en": item.name_en}, "points": item.points, "stock": item.stock,
        "is_unlimited": item.stock is None, "barcode": item.barcode, "photo_evidence_id": item.photo_evidence_id,
        "photo_url": f"{API}/items/{item.id}/photo" if item.photo_evidence_id is not None else None,
        "limit": {"period": item.limit_period, "count": item.limit_count} if item.limit_period else None,
        "min_stars": item.min_stars, "available_from": item.available_from, "available_until": item.available_until,
        "is_active": item.is_active, "is_available": is_available(item, now),
        "created_at": item.created_at, "updated_at": item.updated_at,
    }


# --- changing the catalogue ----------------------------------------------------------------

def _names(name: dict[str, str]) -> tuple[str, str]:
    zh = (name.get("zh") or "").strip()
    en = (name.get("en") or "").strip() or zh
    if not zh:
        raise InvalidItem(reason="name.zh", details={"field": "name"})
    return zh[:100], en[:100]


def _check_window(available_from: datetime | None, available_until: datetime | None) -> None:
    if available_from is not None and available_until is not None and available_until <= available_from:
        raise InvalidItem(reason="available_until <= available_from", details={"field": "available_until"})


def _check_photo(shop: Shop, evidence_id: int | None) -> None:
    """A photo is an image uploaded by staff of a partner community, for no household."""
    if evidence_id is None:
        return
    evidence = row_by_id(Evidence, evidence_id)
    if evidence is None or evidence.household_id is not None or db.session.get(
            ShopPartnership, (evidence.community_id, shop.id)) is None:
        raise EvidenceNotFound()
    if evidence.content_type not in IMAGE_TYPES:
        raise InvalidItem(reason="photo must be JPEG or PNG", details={"field": "photo_evidence_id"})


def _barcode(barcode: str | None) -> str | None:
    barcode = (barcode or "").strip()
    return barcode[:64] or None


def _barcode_free(shop: Shop, barcode: str | None, item_id: int | None = None) -> None:
    if barcode is None:
        return
    stmt = sa.select(ShelfItem.id).where(ShelfItem.community_id == shop.community_id, ShelfItem.shop_id == shop.id,
                                         ShelfItem.barcode == barcode)
    if item_id is not None:
        stmt = stmt.where(ShelfItem.id != item_id)
    if db.session.scalar(stmt) is not None:
        raise BarcodeTaken(barcode=barcode)


def create_item(actor: User, shop_id: int, *, name: dict[str, str], points: int, stock: int | None = None,
                barcode: str | None = None, photo_evidence_id: int | None = None,
                limit: dict[str, Any] | None = None, min_stars: int | None = None,
                available_from: datetime | None = None, available_until: datetime | None = None) -> dict[str, Any]:
    """Put an item on a shop's shelf (staff or an admin of a partner community). ``stock`` None is
    unlimited; a number is the opening stock, recorded as a ``delivery`` movement. Refusals:
    ``barcode_taken`` 409, ``evidence_not_found`` 404, ``invalid_item`` 422."""
    from pointsbank.shelf.services.stock import record_movement

    shop = managed_shop(actor, shop_id)
    zh, en = _names(name)
    if points < 1:
        raise InvalidItem(reason="points < 1", details={"field": "points"})
    if stock is not None and stock < 0:
        raise InvalidItem(reason="stock < 0", details={"field": "stock"})
    _check_window(available_from, available_until)
    _check_photo(shop, photo_evidence_id)
    barcode = _barcode(barcode)
    _barcode_free(shop, barcode)
    now = clock.now()
    item = ShelfItem(community_id=shop.community_id, shop_id=shop.id, name_zh=zh, name_en=en, points=points,
                     stock=0 if stock is not None else None, barcode=barcode, photo_evidence_id=photo_evidence_id,
                     limit_period=(limit or {}).get("period"), limit_count=(limit or {}).get("count"),
                     min_stars=min_stars, available_from=available_from, available_until=available_until,
                     is_active=True, created_by_id=actor.id, created_at=now, updated_at=now)
    insert_or_conflict(item, BarcodeTaken(barcode=barcode))
    if stock:
        record_movement(item, change=stock, reason="delivery", note="opening stock", actor_id=actor.id)
    audit.record(actor, "shelf.item_create", community_id=shop.community_id, target_type="shelf_item",
                 target_id=item.id, data={"shop_id": shop.id, "name": zh, "points": points, "stock": stock})
    db.session.flush()
    return item_view(item, now)


def update_item(actor: User, item_id: int, **changes: Any) -> dict[str, Any]:
    """Change an item from now on (staff or an admin of a partner community): name, points,
    barcode, photo, limit (None removes it), minimum stars, availability window, ``is_active``.
    The stock is not edited here: it moves through ``POST /items/{id}/stock``."""
    item, shop = item_for(actor, item_id, manage=True)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidItem(reason=", ".join(sorted(unknown)), details={"fields": sorted(unknown)})
    if "name" in changes:
        item.name_zh, item.name_en = _names(changes["name"] or {})
    if "points" in changes:
        if changes["points"] is None or changes["points"] < 1:
            raise InvalidItem(reason="points < 1", details={"field": "points"})
        item.points = changes["points"]
    if "barcode" in changes:
        barcode = _barcode(changes["barcode"])
        _barcode_free(shop, barcode, item.id)
        item.barcode = barcode
    if "photo_evidence_id" in changes:
        _check_photo(shop, changes["photo_evidence_id"])
        item.photo_evidence_id = changes["photo_evidence_id"]
    if "limit" in changes:
        limit = changes["limit"] or {}
        item.limit_period, item.limit_count = limit.get("period"), limit.get("count")
    if "min_stars" in changes:
        item.min_stars = changes["min_stars"]
    for key in ("available_from", "available_until"):
        if key in changes:
            setattr(item, key, changes[key])
    _check_window(item.available_from, item.available_until)
    if "is_active" in changes and changes["is_active"] is not None:
        item.is_active = bool(changes["is_active"])
    item.updated_at = clock.now()
    insert_or_conflict(item, BarcodeTaken(barcode=item.barcode))
    audit.record(actor, "shelf.item_update", community_id=item.community_id, target_type="shelf_item",
                 target_id=item.id, data={k: (v if not isinstance(v, datetime) else v.isoformat())
                                          for k, v in changes.items()})
    db.session.flush()
    return item_view(item)


# --- reading it ----------------------------------------------------------------------------

def get_item(actor: User, item_id: int) -> dict[str, Any]:
    """One item, for whoever may read its shop's shelf (residents and grid workers: active items only)."""
    item, _ = item_for(actor, item_id)
    return item_view(item)


def find_by_barcode(actor: User, shop_id: int, barcode: str) -> dict[str, Any]:
    """The shop's active item with this barcode (the cashier's scanner); 404 ``item_not_found``."""
    shop = shelf_shop(actor, shop_id)
    item = db.session.scalar(sa.select(ShelfItem).where(
        ShelfItem.community_id == shop.community_id, ShelfItem.shop_id == shop.id,
        ShelfItem.barcode == (barcode or "").strip(), ShelfItem.is_active.is_(True)))
    if item is None:
        raise ItemNotFound()
    return item_view(item)


def list_items(actor: User, shop_id: int, *, household_id: int | None = None,
               query: str | None = None) -> list[dict[str, Any]]:
    """The shop's shelf, by name. Residents and grid workers see the active items; staff, admins
    and the shop's cashiers all of them. Given a household (a resident: always their own; staff,
    admins and grid workers: one in their scope; cashiers never — they do not see households),
    each item also says ``eligible`` and the ``reasons`` it is not, in the order of :data:`REASONS`."""
    shop = shelf_shop(actor, shop_id)
    if actor.role == "resident":
        household_id = actor.household_id
    elif household_id is not None and actor.role == "cashier":
        raise Forbidden()
    stmt = sa.select(ShelfItem).where(ShelfItem.community_id == shop.community_id, ShelfItem.shop_id == shop.id)
    if actor.role in ("resident", "grid_worker"):
        stmt = stmt.where(ShelfItem.is_active.is_(True))
    if query:
        pattern = f"%{query.strip().lower()}%"
        stmt = stmt.where(sa.or_(sa.func.lower(ShelfItem.name_zh).like(pattern),
                                 sa.func.lower(ShelfItem.name_en).like(pattern), ShelfItem.barcode == query.strip()))
    items = list(db.session.scalars(stmt.order_by(ShelfItem.name_zh, ShelfItem.id)))
    now = clock.now()
    views = [item_view(item, now) for item in items]
    if household_id is None:
        return views
    household = policy.household_ref(actor, household_id)
    for view, reasons in zip(views, eligibility(household, items, now)):
        view["eligible"], view["reasons"] = not reasons, reasons
    return views


def eligibility(household: policy.HouseholdRef, items: Iterable[Any], now: datetime) -> list[list[str]]:
    """For each item, why this household may not take one now (an empty list: it may)."""
    from pointsbank.ledger import services as ledger
    from pointsbank.shelf.services.baskets import taken_in_period

    items = list(items)
    balance = ledger.household_balance(household.id, community_id=household.community_id)
    redeemable = max(0, balance - household.base_points)
    taken = taken_in_period(household, [i for i in items if i.limit_period], now)
    level = stars.household_stars(household.community_id, household.id)
    answers = []
    for item in items:
        reasons = []
        if item.points > redeemable:
            reasons.append("cannot_afford")
        if item.limit_period and taken.get(item.id, 0) >= item.limit_count:
            reasons.append("household_limit_reached")
        if item.min_stars and level < item.min_stars:
            reasons.append("stars_required")
        if not is_available(item, now):
            reasons.append("item_unavailable")
        if item.stock is not None and item.stock < 1:
            reasons.append("out_of_stock")
        answers.append(reasons)
    return answers


def photo_of(actor: User, item_id: int) -> tuple[Evidence, Any]:
    """The item's photo file, for whoever may read the item (the evidence's own rule does not
    apply: a shelf photo belongs to no household)."""
    from pathlib import Path

    from flask import current_app

    item, _ = item_for(actor, item_id)
    evidence = row_by_id(Evidence, item.photo_evidence_id, item.community_id) if item.photo_evidence_id else None
    if evidence is None:
        raise EvidenceNotFound()
    path = Path(current_app.config["EVIDENCE_DIR"]) / evidence.storage_path
    if not path.is_file():
        raise EvidenceNotFound()
    return evidence, path



def shops_with_shelf(actor: User) -> list[Shop]:
    """The partner shops of the caller's community that have an active item on their shelf, by
    name (what a resident may browse on ``/home/shelf``)."""
    policy.require_role(actor, "admin", "staff", "grid_worker", "resident")
    if actor.community_id is None:
        return []
    has_items = sa.select(ShelfItem.id).where(ShelfItem.shop_id == Shop.id, ShelfItem.is_active.is_(True)).exists()
    return list(db.session.scalars(
        sa.select(Shop).join(ShopPartnership, ShopPartnership.shop_id == Shop.id)
        .where(ShopPartnership.community_id == actor.community_id, has_items).order_by(Shop.name, Shop.id)))
