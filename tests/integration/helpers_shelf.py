"""Helpers for shelf tests: items put on a shelf through the API, baskets rung up, reservations."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pointsbank.extensions import db
from pointsbank.shelf.models import ShelfItem
from pointsbank.shelf.services.stock import verify_stock


def new_item(client: Any, world: Any, *, user: str = "staff_a", shop: str = "shop_a", name: str = "肥皂",
             points: int = 10, **fields: Any) -> dict[str, Any]:
    """An item created with ``POST /shops/{id}/items`` (asserted 201)."""
    body = {"name": {"zh": name, "en": fields.pop("en", f"{name} (en)")}, "points": points, **fields}
    response = client.post(f"/api/v1/shops/{world[shop]}/items", json=body, headers=world.headers(user))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def ring_up(client: Any, headers: dict[str, str], code: str, items: list[tuple[int, int]]) -> Any:
    """``POST /redemptions`` with a basket of (item id, quantity)."""
    return client.post("/api/v1/redemptions", headers=headers,
                       json={"code": code, "items": [{"item_id": i, "quantity": q} for i, q in items]})


def reserve(client: Any, world: Any, user: str, shop: str, items: list[tuple[int, int]], **body: Any) -> Any:
    return client.post("/api/v1/reservations", headers=world.headers(user),
                       json={"shop_id": world[shop], "items": [{"item_id": i, "quantity": q} for i, q in items],
                             **body})


def stock_of(item_id: int) -> int | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(ShelfItem.stock).where(ShelfItem.id == item_id))


def stock_clean() -> bool:
    report = verify_stock()
    assert report.ok, report.differences
    return True
