"""Partner shops (爱心超市): registered by a community, partnered with one or more.

A shop has one ledger account per partner community (``shop:{id}`` within that community),
opened when the partnership is made, so each community settles its own redemptions.
Cashier logins are ordinary users with role ``cashier`` and the shop's id
(``POST /api/v1/users`` or ``pointsbank user create --role cashier --shop ID``).

Who sees a shop: its own cashiers, and staff and admins of a community it partners with;
anyone else gets 404.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pointsbank.audit import services as audit
from pointsbank.auth import policy
from pointsbank.auth.models import User
from pointsbank.database import insert_or_conflict
from pointsbank.errors import NotFound
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.redeem.models import Shop, ShopPartnership
from pointsbank.redeem.services import ShopAlreadyPartner, ShopNameTaken


def partner_ids(shop_id: int) -> list[int]:
    return list(db.session.scalars(sa.select(ShopPartnership.community_id).where(
        ShopPartnership.shop_id == shop_id).order_by(ShopPartnership.community_id)))


def shop_view(shop: Shop, partners: list[int] | None = None) -> dict[str, Any]:
    return {"id": shop.id, "community_id": shop.community_id, "name": shop.name, "address": shop.address,
            "is_active": shop.is_active, "created_at": shop.created_at,
            "partner_community_ids": partners if partners is not None else partner_ids(shop.id)}


def cashier_shop(actor: User) -> Shop:
    shop = db.session.get(Shop, actor.shop_id) if actor.shop_id is not None else None
    if shop is None:
        raise NotFound()
    return shop


def shop_for(actor: User, shop_id: int, *roles: str) -> Shop:
    """The shop if ``actor`` is one of its cashiers or staff/admin of a partner community; else 404."""
    policy.require_role(actor, *roles)
    shop = db.session.get(Shop, shop_id)
    if shop is None:
        raise NotFound()
    if actor.role == "cashier":
        visible = actor.shop_id == shop.id
    elif actor.role == "staff":
        visible = db.session.get(ShopPartnership, (actor.community_id, shop.id)) is not None
    elif actor.role == "admin":
        scope = policy.admin_community_ids(actor)
        visible = scope is None or bool(scope & set(partner_ids(shop.id)))
    else:
        visible = False
    if not visible:
        raise NotFound()
    return shop


def create_shop(actor: User, community_id: int, *, name: str, address: str | None = None) -> dict[str, Any]:
    """A shop registered by (and partnered with) the community, with its ledger account."""
    policy.community_for(actor, community_id, "admin", "staff")
    name = name.strip()
    if db.session.scalar(sa.select(Shop.id).where(Shop.community_id == community_id, Shop.name == name)) is not None:
        raise ShopNameTaken(name=name)
    shop = Shop(community_id=community_id, name=name, address=address.strip() if address else None)
    insert_or_conflict(shop, ShopNameTaken(name=name))
    db.session.add(ShopPartnership(community_id=community_id, shop_id=shop.id))
    ledger.shop_account(community_id, shop.id)
    audit.record(actor, "shop.create", community_id=community_id, target=shop, data={"name": name})
    db.session.flush()
    return shop_view(shop, [community_id])


def list_shops(actor: User, community_id: int) -> list[dict[str, Any]]:
    """The shops that partner with the community, by name."""
    policy.community_for(actor, community_id, "admin", "staff")
    shops = list(db.session.scalars(sa.select(Shop).join(ShopPartnership, ShopPartnership.shop_id == Shop.id).where(
        ShopPartnership.community_id == community_id).order_by(Shop.name, Shop.id)))
    partners: dict[int, list[int]] = {shop.id: [] for shop in shops}
    if shops:
        for shop_id, cid in db.session.execute(sa.select(ShopPartnership.shop_id, ShopPartnership.community_id).where(
                ShopPartnership.shop_id.in_(partners)).order_by(ShopPartnership.community_id)):
            partners[shop_id].append(cid)
    return [shop_view(shop, partners[shop.id]) for shop in shops]


def add_partner(actor: User, shop_id: int, *, community_id: int) -> dict[str, Any]:
    """Partner a shop with another community (an admin over both), opening its account there."""
    shop = shop_for(actor, shop_id, "admin")
    policy.community_for(actor, community_id, "admin")
    if db.session.get(ShopPartnership, (community_id, shop.id)) is not None:
        raise ShopAlreadyPartner()
    partnership = ShopPartnership(community_id=community_id, shop_id=shop.id)
    db.session.add(partnership)
    account_id = ledger.shop_account(community_id, shop.id)
    audit.record(actor, "shop.partner", community_id=community_id, target=shop, data={"community_id": community_id})
    db.session.flush()
    return {"shop_id": shop.id, "community_id": community_id, "account_id": account_id,
            "created_at": partnership.created_at}


def get_shop(actor: User, shop_id: int) -> dict[str, Any]:
    """The shop, its partner communities and its cashier logins."""
    shop = shop_for(actor, shop_id, "admin", "staff", "cashier")
    cashiers = list(db.session.scalars(sa.select(User).where(User.shop_id == shop.id, User.role == "cashier")
                                       .order_by(User.username)))
    return {**shop_view(shop), "cashiers": cashiers}
