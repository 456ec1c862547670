"""Test data built through the services (the same paths the API uses), plus ready tokens.

``build_world(app)`` gives two communities (``alpha`` in town T1, ``beta`` in town T2 of one
county), households, a partner shop each, and one login per role, each with a bearer token:
``world.headers("staff_a")`` → ``{"Authorization": "Bearer …"}``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pointsbank import clock
from pointsbank.auth.models import ApiToken
from pointsbank.auth.services import create_user, hash_token
from pointsbank.community import services as community
from pointsbank.extensions import db
from pointsbank.ledger import services as ledger
from pointsbank.redeem.models import Shop, ShopPartnership

PASSWORD = "correct-horse-1"


@dataclass
class World:
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, name: str) -> int:
        return self.ids[name]

    def headers(self, user: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", **extra}


def make_shop(community_id: int, name: str) -> Shop:
    shop = Shop(community_id=community_id, name=name)
    db.session.add(shop)
    db.session.flush()
    db.session.add(ShopPartnership(community_id=community_id, shop_id=shop.id))
    ledger.shop_account(community_id, shop.id)
    return shop


def token_for(user_id: int) -> str:
    raw = secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user_id, token_hash=hash_token(raw), expires_at=clock.now() + timedelta(days=1)))
    return raw


def build_world(app: Any) -> World:
    app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:1000"
    w = World()
    county = community.create_region(None, code="county", name="黎县", kind="county")
    t1 = community.create_region(None, code="t1", name="河西镇", kind="town", parent_id=county.id)
    t2 = community.create_region(None, code="t2", name="河东镇", kind="town", parent_id=county.id)
    alpha = community.create_community(None, code="alpha", name="清风村", parent_region_id=t1.id, base_points=100,
                                       point_value_fen=100)
    beta = community.create_community(None, code="beta", name="明月村", parent_region_id=t2.id, base_points=100,
                                      point_value_fen=200)
    w.ids.update(county=county.id, t1=t1.id, t2=t2.id, alpha=alpha.id, beta=beta.id)
    for name, cid, number, grid in (("a1", alpha.id, "A-001", "一组"), ("a2", alpha.id, "A-002", "一组"),
                                    ("a3", alpha.id, "A-003", "二组"), ("b1", beta.id, "B-001", "一组")):
        w.ids[name] = community.create_household(None, cid, number=number, head_name=f"户主{name}", grid=grid,
                                                 members=[f"户主{name}", f"家人{name}"])["id"]
    w.ids["shop_a"] = make_shop(alpha.id, "爱心超市").id
    w.ids["shop_b"] = make_shop(beta.id, "明月小店").id
    logins = [
        ("admin", dict(role="admin")),
        ("admin_t2", dict(role="admin", region_code="t2")),
        ("staff_a", dict(role="staff", community_code="alpha", household_id=w["a3"])),
        ("staff_a2", dict(role="staff", community_code="alpha")),
        ("staff_a3", dict(role="staff", community_code="alpha")),
        ("grid_a", dict(role="grid_worker", community_code="alpha", grid_names=["一组"])),
        ("resident_a1", dict(role="resident", household_id=w["a1"])),
        ("resident_a2", dict(role="resident", household_id=w["a2"])),
        ("cashier_a", dict(role="cashier", shop_id=w["shop_a"])),
        ("staff_b", dict(role="staff", community_code="beta")),
        ("resident_b1", dict(role="resident", household_id=w["b1"])),
        ("cashier_b", dict(role="cashier", shop_id=w["shop_b"])),
    ]
    for username, kwargs in logins:
        user = create_user(None, username=username, password=PASSWORD, **kwargs)
        w.users[username] = user.id
        w.tokens[username] = token_for(user.id)
    db.session.commit()
    return w
